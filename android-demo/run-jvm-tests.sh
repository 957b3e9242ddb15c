#!/usr/bin/env bash
# JVM tests of the app's pure-Kotlin text pipeline (android-demo/app/src/main/java/dev/edgeport/demo/text):
# token ids must equal the Python (Hugging Face) tokenizer's for every golden case, the Unicode tables must equal
# what the installed `tokenizers` measures for every code point, and the self-check arithmetic must hold.
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
echo "generating golden vectors from the Python tokenizer (SST-2 at $DATA_DIR) ..."
"$PY" -m edgeport.android tokenizer-golden "$GOLDEN" "$DATA_DIR"
"$PY" "$HERE/tools/unicode_tables.py" probe "$GOLDEN/unicode-probe.txt"

# --- compile (skipped when no source changed since the last successful compile)
CLASSES="$BUILD/classes"
SOURCES=("$TEXT_SRC"/*.kt "$TEST_SRC"/*.kt "$HERE/jvm-runner/RunJvmTests.kt")
STAMP="$(cat "${SOURCES[@]}" | sha256sum | cut -c1-16)-$KOTLIN_VERSION"
if [ "$(cat "$CLASSES/.stamp" 2>/dev/null)" != "$STAMP" ]; then
  echo "compiling ${#SOURCES[@]} Kotlin files with kotlinc $KOTLIN_VERSION ..."
  rm -rf "$CLASSES"
  "$KOTLIN_HOME/bin/kotlinc" -nowarn -jvm-target 17 -cp "$JUNIT_JAR:$HAMCREST_JAR" -d "$CLASSES" "${SOURCES[@]}"
  echo "$STAMP" > "$CLASSES/.stamp"
fi

# --- the app's own assets, when `edgeport android RUN_DIR` wrote them (git-ignored, so not in CI): the Kotlin
# tokenizer on the run's (possibly vocabulary-pruned) vocab.txt must give the ids golden.json recorded in Python.
CP="$CLASSES:$KOTLIN_HOME/lib/kotlin-stdlib.jar:$JUNIT_JAR:$HAMCREST_JAR"
ASSETS="$HERE/app/src/main/assets"
if [ -f "$ASSETS/golden.json" ]; then
  echo "checking the app assets written by edgeport android ($ASSETS) ..."
  java -Dedgeport.golden.dir="$ASSETS" -Dedgeport.golden.required=true -cp "$CP" RunJvmTestsKt \
    dev.edgeport.demo.text.GoldenTokenizerTest
fi

# --- run
TESTS=(dev.edgeport.demo.text.GoldenTokenizerTest dev.edgeport.demo.text.UnicodeTablesTest
       dev.edgeport.demo.text.TokenizerUnitTest dev.edgeport.demo.text.SelfCheckTest dev.edgeport.demo.text.PurityTest)
java -Dedgeport.golden.dir="$GOLDEN" -Dedgeport.golden.required=true -Dedgeport.text.src="$TEXT_SRC" \
  -cp "$CP" RunJvmTestsKt "${TESTS[@]}"
