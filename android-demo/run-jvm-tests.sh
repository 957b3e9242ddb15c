#!/usr/bin/env bash
# JVM tests of the app's pure-Kotlin code (android-demo/app/src/main/java/dev/edgeport/demo/text and DemoController):
# token ids must equal the Python (Hugging Face) tokenizer's for every golden case, for the MiniLM WordPiece
# tokenizer and one tokenizer per family (byte-level BPE/RoBERTa, Unigram/XLM-R with SentencePiece's Precompiled
# normalizer, Unigram/DeBERTa-v2, WordPiece/BERT and DistilBERT, trained by tests/family.py), stage by stage too
# (normalizer and pre-tokenizer outputs); the Unicode tables must equal what the installed `tokenizers` measures for
# every code point; the entity post-processing (word tags from the first sub-token, strict IOB2 entities with
# character spans) must equal edgeport.tasks.ner's on CoNLL-2003 sentences and raw texts (EntitiesTest, goldens from
# tests/ner_golden.py); the answer-span decoding of question answering (best start/end pair in the context, Spans.kt)
# must equal edgeport.tasks.squad's on SQuAD dev windows and hand texts (SpansTest, goldens from tests/squad_golden.py),
# and the app's one window of question + paragraph (ids, token types, each token's characters: QaWindows.kt) must be
# the first window squad.windows makes, for the MiniLM and the WordPiece family tokenizers (QaWindowsTest);
# the self-check arithmetic must hold; the controller must show every failure instead of
# crashing; and the classifier must address each length bucket's own signature and output, dequantizing an int8
# output with that signature's scale and zero point (BucketedClassifierTest, golden on full-integer app assets);
# the sentence-embedding maths (mean pooling, L2 normalisation, cosine, the embedding post-process: VectorsTest) must
# equal edgeport/tasks/vectors.py's on seeded random hidden states and masks (vectors.json).
# Plus the app layer's type-check (AppLayerCompileTest):
# MainActivity + TfliteClassifier compiled with kotlinc against LiteRT/Android API stubs (jvm-stubs/), and a negative
# control that must fail to compile (a String? passed as LiteRT's non-null signature).
#
#   bash android-demo/run-jvm-tests.sh        (from the repo root; idempotent; installs what is missing)
#
# Needs: python with edgeport installed (.venv is used when present), node/npm (kotlin-compiler from npm),
# a JDK >= 17, and JUnit 4 (Debian's junit4; installed with apt-get when missing and we are root).
# Everything generated (compiler, golden files, classes) lives in android-demo/build-jvm/, which git ignores.
# The last line is "N passed, N failed"; the exit status is non-zero on any failure.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
BUILD="$HERE/build-jvm"
KOTLIN_VERSION="2.4.20"
TEXT_SRC="$HERE/app/src/main/java/dev/edgeport/demo/text"
TEST_SRC="$HERE/app/src/test/java/dev/edgeport/demo/text"
APP_SRC="$HERE/app/src/main/java/dev/edgeport/demo"
APP_TEST_SRC="$HERE/app/src/test/java/dev/edgeport/demo"
mkdir -p "$BUILD"

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY="python3"; fi
fi

# --- kotlinc from npm (ships a full JVM compiler; no network needed once installed)
KOTLIN_HOME="$BUILD/node_modules/kotlin-compiler"
if [ ! -x "$KOTLIN_HOME/bin/kotlinc" ] || ! grep -q "\"version\": \"$KOTLIN_VERSION\"" "$KOTLIN_HOME/package.json"; then
  echo "installing kotlin-compiler@$KOTLIN_VERSION into $BUILD (npm) ..."
  npm install --prefix "$BUILD" --no-audit --no-fund --loglevel=error "kotlin-compiler@$KOTLIN_VERSION" >/dev/null
fi

# --- JUnit 4 + hamcrest from Debian
JUNIT_JAR=/usr/share/java/junit4.jar
HAMCREST_JAR=/usr/share/java/hamcrest-core.jar
if [ ! -f "$JUNIT_JAR" ] || [ ! -f "$HAMCREST_JAR" ]; then
  if [ "$(id -u)" != "0" ]; then
    echo "JUnit 4 is missing: run 'sudo apt-get install -y junit4' (or as root) and retry" >&2
    exit 2
  fi
  echo "installing junit4 (apt-get) ..."
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq junit4 >/dev/null
fi

# --- golden vectors from the Python tokenizer (regenerated every run: they are the oracle, never committed)
DATA_DIR="${EDGEPORT_DATA_DIR:-$ROOT/../shared/data}/sst2"
GOLDEN="$BUILD/golden"
echo "generating golden vectors from the Python tokenizers (SST-2 at $DATA_DIR) ..."
EDGEPORT_DATA_DIR="$(dirname "$DATA_DIR")" "$PY" "$ROOT/tests/android_golden.py" "$GOLDEN" "$DATA_DIR"
"$PY" "$HERE/tools/unicode_tables.py" probe "$GOLDEN/unicode-probe.txt"

# --- compile (skipped when no source changed since the last successful compile). The app's pure code is compiled
# on its own, with no Android or LiteRT class in reach: an android.* import there fails right here.
MAIN_CLASSES="$BUILD/main-classes"
CLASSES="$BUILD/classes"
MAIN_SOURCES=("$TEXT_SRC"/*.kt "$APP_SRC/DemoController.kt" "$APP_SRC/BucketedClassifier.kt")
TEST_SOURCES=("$TEST_SRC"/*.kt "$APP_TEST_SRC"/*.kt "$HERE"/jvm-runner/*.kt)
STAMP="$(cat "${MAIN_SOURCES[@]}" "${TEST_SOURCES[@]}" | sha256sum | cut -c1-16)-$KOTLIN_VERSION"
if [ "$(cat "$CLASSES/.stamp" 2>/dev/null)" != "$STAMP" ] || [ ! -d "$MAIN_CLASSES" ]; then
  echo "compiling ${#MAIN_SOURCES[@]} app + ${#TEST_SOURCES[@]} test Kotlin files with kotlinc $KOTLIN_VERSION ..."
  rm -rf "$MAIN_CLASSES" "$CLASSES"
  "$KOTLIN_HOME/bin/kotlinc" -nowarn -jvm-target 17 -module-name app -d "$MAIN_CLASSES" "${MAIN_SOURCES[@]}"
  # Tests see the main code's `internal` members, as in Gradle (same module name + friend path).
  "$KOTLIN_HOME/bin/kotlinc" -nowarn -jvm-target 17 -module-name app -Xfriend-paths="$MAIN_CLASSES" \
    -cp "$MAIN_CLASSES:$JUNIT_JAR:$HAMCREST_JAR" -d "$CLASSES" "${TEST_SOURCES[@]}"
  echo "$STAMP" > "$CLASSES/.stamp"
fi

# --- the app's own assets, when `edgeport android RUN_DIR` wrote them (git-ignored, so not in CI): the Kotlin
# tokenizer of the run's family, on the run's (possibly vocabulary-pruned) files, must give the ids golden.json
# recorded in Python. EDGEPORT_EXTRA_ASSETS (colon-separated folders written by `edgeport android --out`) adds more.
CP="$MAIN_CLASSES:$CLASSES:$KOTLIN_HOME/lib/kotlin-stdlib.jar:$JUNIT_JAR:$HAMCREST_JAR"
ASSET_DIRS=()
[ -f "$HERE/app/src/main/assets/golden.json" ] && ASSET_DIRS+=("$HERE/app/src/main/assets")
IFS=':' read -r -a EXTRA <<< "${EDGEPORT_EXTRA_ASSETS:-}"
for d in "${EXTRA[@]}"; do [ -n "$d" ] && ASSET_DIRS+=("$d"); done
for ASSETS in "${ASSET_DIRS[@]}"; do
  echo "checking the app assets written by edgeport android ($ASSETS) ..."
  java -Dedgeport.golden.dir="$ASSETS" -Dedgeport.golden.required=true -cp "$CP" RunJvmTestsKt \
    dev.edgeport.demo.text.GoldenTokenizerTest dev.edgeport.demo.text.GoldenFamiliesTest dev.edgeport.demo.text.ModelInfoTest \
    dev.edgeport.demo.BucketedClassifierTest dev.edgeport.demo.TaskAssetsTest
done

mkdir -p "$BUILD/app-check"

# --- run (AppLayerCompileTest runs kotlinc itself: the app-layer type-check and its negative control, ~30 s)
TESTS=(dev.edgeport.demo.text.GoldenTokenizerTest dev.edgeport.demo.text.GoldenFamiliesTest
       dev.edgeport.demo.text.StageProbeTest dev.edgeport.demo.text.UnicodeFormsTest dev.edgeport.demo.text.UnicodeTablesTest
       dev.edgeport.demo.text.TokenizerUnitTest dev.edgeport.demo.text.FamilyUnitTest dev.edgeport.demo.text.SelfCheckTest
       dev.edgeport.demo.text.PurityTest dev.edgeport.demo.text.ModelInfoTest dev.edgeport.demo.text.EntitiesTest
       dev.edgeport.demo.text.EntitiesUnitTest dev.edgeport.demo.text.SpansTest dev.edgeport.demo.text.SpansUnitTest
       dev.edgeport.demo.text.QaWindowsTest dev.edgeport.demo.text.QuestionAnsweringUnitTest
       dev.edgeport.demo.text.VectorsTest dev.edgeport.demo.text.OutputChecksTest
       dev.edgeport.demo.DemoControllerTest dev.edgeport.demo.BucketedClassifierTest AppLayerCompileTest)
java -Dedgeport.golden.dir="$GOLDEN" -Dedgeport.golden.required=true -Dedgeport.text.src="$TEXT_SRC" \
  -Dedgeport.app.src="$HERE/app/src/main/java" -Dedgeport.app.res="$HERE/app/src/main/res" \
  -Dedgeport.stubs="$HERE/jvm-stubs" -Dedgeport.text.classes="$MAIN_CLASSES" -Dedgeport.check.dir="$BUILD/app-check" \
  -Dedgeport.kotlinc="$KOTLIN_HOME/bin/kotlinc" -cp "$CP" RunJvmTestsKt "${TESTS[@]}"
