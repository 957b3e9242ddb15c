r"""Probe the Hugging Face normalizers and pre-tokenizers one code point at a time.

Why: the Rust `tokenizers` crate classifies characters with several Unicode versions at once: an old table (the
`unicode_categories` crate) for the BERT normalizer's control/format, punctuation and non-spacing marks; Rust's
current Unicode for lower-casing; the `unicode-normalization-alignments` fork (older than Python's unicodedata) for
NFC/NFD/NFKC/NFKD; Oniguruma's tables for regex classes (\s, \p{L}, \p{N}); `unicode-segmentation` for the grapheme
clusters the SentencePiece `Precompiled` normalizer works on. Java's `Character` and `java.text.Normalizer` (JVM and
every Android release) use yet another Unicode version, so a Kotlin tokenizer built on them disagrees with Python on
hundreds of code points. Instead, the Kotlin pipeline carries tables *measured from the Python tokenizer itself*,
written by this script:

    python android-demo/tools/unicode_tables.py kotlin  > .../text/UnicodeTables.kt   (committed, regenerate on a
                                                                                       tokenizers upgrade)
    python android-demo/tools/unicode_tables.py probe OUT.txt                          (test-time oracle: the JVM
                                                                                       test checks every code point)

What is measured, and how (every measurement runs the installed `tokenizers`, never Python's unicodedata):

- BERT sets and maps (removed, space, split, punct, cjk, strip, lower): one BertNormalizer/BertPreTokenizer call
  per code point.
- regex_space / regex_letter / regex_number: what Oniguruma's \s, \p{L}, \p{N} match, by a `Replace` normalizer
  deleting the complement class from a string of all code points. The byte-level BPE pre-tokenizer regex and the
  `Replace` normalizers' patterns are run in Kotlin with these sets substituted for the classes.
- whitespace: what `WhitespaceSplit` splits on (Rust `char::is_whitespace`), also used by `Strip` and added-token
  lstrip/rstrip.
- nfd / nfkd (full decompositions per code point; Hangul syllables are algorithmic), ccc (canonical combining classes,
  measured by which marks NFD reorders past which: only the order matters and it agreed with unicodedata's values for
  every mark the Rust crate knows), compose (the pair each primary composite recomposes from, derived from the
  measured NFC/NFD). The Kotlin NFC/NFKC run the standard algorithm on them; the probe also records NFC/NFKC of every
  single code point so the JVM test checks the algorithm, not just the tables.
- grapheme_extend / grapheme_prepend / grapheme_control: the grapheme-cluster classes the Precompiled normalizer
  sees, measured with a probe charsmap (PROBE_CHARSMAP: every code point except LF is a key) on which a cluster
  shorter than 6 bytes comes out as one character: "a"+c joined -> c extends (Extend/ZWJ/SpacingMark); c+"a" joined
  -> c is Prepend; c+U+0301 not joined -> c is Control/CR/LF. Rules a per-character model cannot see (emoji ZWJ
  sequences, regional-indicator pairs, Indic conjuncts, Hangul L/V/T) only ever join clusters of 6 bytes or more,
  which the Precompiled normalizer treats character by character anyway.
"""

from __future__ import annotations

import base64
import functools
import sys

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3  # decomposed algorithmically in Kotlin; 11k table rows saved
LF = 0x0A

# A SentencePiece precompiled charsmap in which every code point except LF maps to "b" ("b" itself to "c"): built
# once by build_probe_charsmap() (sentencepiece's trainer refuses identity rules, hence "b"). Embedded so that the
# probe needs only `tokenizers`.
PROBE_CHARSMAP = (
    "AAwAAAAoAAALBQIACAkCAAkNAgAOEQIADxUCAAwZAgANHQIAAiECAAMlAgAIAAAAAS0CAAYxAgAHNQIABDkCAAU9AgAaQQIAG0UCABhJAgAZTQ"
    "IAHlECAB9VAgAcWQIAHV0CABJhAgATZQIAEGkCABFtAgAWcQIAF3UCABR5AgAVfQIAKoECACuFAgAoiQIAKY0CAC6RAgAvlQIALJkCAC2dAgAi"
    "oQIAI6UCACCpAgAhrQIAJrECACe1AgAkuQIAJb0CADrBAgA7xQIAOMkCADnNAgA+0QIAP9UCADzZAgA93QIAMuECADPlAgAw6QIAMe0CADbxAg"
    "A39QIANPkCADX9AgBKAQMASwUDAEgJAwBJDQMAThEDAE8VAwBMGQMATR0DAEIhAwBDJQMAQCkDAEEtAwBGMQMARzUDAEQ5AwBFPQMAWkEDAFtF"
    "AwBYSQMAWU0DAF5RAwBfVQMAXFkDAF1dAwBSYQMAU2UDAFBpAwBRbQMAVnEDAFd1AwBUeQMAVX0DAGqBAwBrhQMAaIkDAGmNAwBukQMAb5UDAG"
    "yZAwBtnQMAYqUDAGOlAwBgqQMAYa0DAGaxAwBntQMAZLkDAGW9AwB6wQMAe8UDAHjJAwB5zQMAftEDAH/VAwB82QMAfd0DAHLhAwBz5QMAcOkD"
    "AHHtAwB28QMAd/UDAHT5AwB1/QMAAAAAgAIAAICAAAAAgQAAAIYAAACHAAAAhAAAAIUAAACKAAAAiwAAAIgAAACJAAAAjgAAAI8AAACMAAAAjQ"
    "AAAIBABACBRAQAgkgEAINMBACEUAQAhVQEAIZYBACHXAQAiGAEAIlkBACKaAQAi2wEAIxwBACNdAQAjngEAI98BAChoAUAoKQFAKOoBQCirAUA"
    "pbAFAKS0BQCnuAUAprwFAKmABQCohAUAq4gFAKqMBQCtkAUArJQFAK+YBQCunAUAseAFALDkBQCz6AUAsuwFALXwBQC09AUAt/gFALb8BQC5wA"
    "UAuMQFALvIBQC6zAUAvdAFALzUBQC/2AUAvtwFAMogBADLJAQAyCgEAMksBADOMAQAzzQEAMw4BADNPAQAwgAEAMMEBADIAAAAyQAAAMYQBADH"
    "FAQAxBgEAMUcBADaYAQA22QEANhoBADZbAQA3nAEAN90BADceAQA3XwEANJABADTRAQA0EgEANFMBADWUAQA11QEANRYBADVXAQA6oAFAOuEBQ"
    "DoiAUA6YwFAO6QBQDvlAUA7JgFAO2cBwDioAUA46QFAOCsAwDhrAUA5rAFAOe0BQDkuAUA5bwFAPIAAADzAAAA8AAAAPEAAAD2AAAA9wAAAPQA"
    "AAD1AAAA8gwIAPMICADwqAYA8QAIAP4AAAD/AAAA9LgDAP0AAACAIAMAgSQDAIIoAwCDLAMAhDADAIU0AwCGOAMAhzwDAIgAAwCJBAMAiggDAI"
    "sMAwCMEAMAjRQDAI4YAwCPHAMAkGADAJFkAwCSaAMAk2wDAJRwAwCVdAMAlngDAJd8AwCYQAMAmUQDAJpIAwCbTAMAnFADAJ1UAwCeWAMAn1wD"
    "AKCgAwChpAMAoqgDAKOsAwCksAMApbQDAKa4AwCnvAMAqIADAKmEAwCqiAMAq4wDAKyQAwCtlAMArpgDAK+cAwCw4AMAseQDALLoAwCz7AMAtP"
    "ADALX0AwC2+AMAt/wDALjAAwC5xAMAusgDALvMAwC80AMAvdQDAL7YAwC/3AMAiAEHAIkFBwCKCQcAiw0HAIwRBwCNFQcAjhkHAI8dBwCAIQcA"
    "gSUHAIIpBwCDLQcAhDEHAIU1BwCGOQcAhz0HAJhBBwCZRQcAmkkHAJtNBwCcUQcAnVUHAJ5ZBwCfXQcAkGEHAJFlBwCSaQcAk20HAJRxBwCVdQ"
    "cAlnkHAJd9BwCogQcAqYUHAKqJBwCrjQcArJEHAK2VBwCumQcAr50HAKChBwChpQcAoqkHAKOtBwCksQcApbUHAKa5BwCnvQcAuMEHALnFBwC6"
    "yQcAu80HALzRBwC91QcAvtkHAL/dBwCw4QcAseUHALLpBwCz7QcAtPEHALX1BwC2+QcAt/0HAIAgAQCBJAEAgigBAIMsAQCEMAEAhTQBAIY4AQ"
    "CHPAEAiAABAIkEAQCKCAEAiwwBAIwQAQCNFAEAjhgBAI8cAQCQYAEAkWQBAJJoAQCTbAEAlHABAJV0AQCWeAEAl3wBAJhAAQCZRAEAmkgBAJtM"
    "AQCcUAEAnVQBAJ5YAQCfXAEAoQAAAKAAAACjAAAAogAAAKUAAACkAAAApwAAAKYAAACpAAAAqAAAAKsAAACqAAAArQAAAKwAAACvAAAArgAAAL"
    "EAAACwAAAAswAAALIAAAC1AAAAtAAAALcAAAC2AAAAuQAAALgAAAC7AAAAugAAAL0AAAC8AAAAvwAAAL4AAACQAAEAkQQBAJIIAQCTDAEAlBAB"
    "AJUUAQCWGAEAlxwBAJggAQCZJAEAmigBAJssAQCcMAEAnTQBAJ44AQCfPAEA0QAAANAAAADTAAAA0gAAANUAAADUAAAA1wAAANYAAADZAAAA2A"
    "AAANsAAADaAAAA3QAAANwAAADfAAAA3gAAALCAAQCxhAEAsogBALOMAQC0kAEAtZQBALaYAQC3nAEAuKABALmkAQC6qAEAu6wBALywAQC9tAEA"
    "vrgBAL+8AQCgwAEAocQBAKLIAQCjzAEApNABAKXUAQCm2AEAp9wBAKjgAQCp5AEAqugBAKvsAQCs8AEArfQBAK74AQCv/AEAAAAAAAEAAAACAA"
    "AAAwAAAAQAAAAFAAAABgAAAAcAAAAIAAAACQAAAAoAAAALAAAADAAAAA0AAAAOAAAADwAAABAAAAARAAAAEgAAABMAAAAUAAAAFQAAABYAAAAX"
    "AAAAGAAAABkAAAAaAAAAGwAAABwAAAAdAAAAHgAAAB8AAAAgAAAAIQAAACIAAAAjAAAAJAAAACUAAAAmAAAAJwAAACgAAAApAAAAKgAAACsAAA"
    "AsAAAALQAAAC4AAAAvAAAAMAAAADEAAAAyAAAAMwAAADQAAAA1AAAANgAAADcAAAA4AAAAOQAAADoAAAA7AAAAPAAAAD0AAAA+AAAAPwAAALsA"
    "DwC6BA8AuQgPALgMDwC/EA8AvhQPAL0YDwC8HA8AsyAPALIkDwCxKA8AsCwPALcwDwC2NA8AtTgPALQ8DwCrQA8AqkQPAKlIDwCoTA8Ar1APAK"
    "5UDwCtWA8ArFwPAKNgDwCiZA8AoWgPAKBsDwCncA8ApnQPAKV4DwCkfA8Am4APAJqEDwCZiA8AmIwPAJ+QDwCelA8AnZgPAJycDwCToA8AkqQP"
    "AJGoDwCQrA8Al7APAJa0DwCVuA8AlLwPAIvADwCKxA8AicgPAIjMDwCP0A8AjtQPAI3YDwCM3A8Ag+APAILkDwCB6A8AgOwPAIfwDwCG9A8Ahf"
    "gPAIT8DwCAAAAAgQAAAIIAAACDAAAAhAAAAIUAAACGAAAAhwAAAIgAAACJAAAAigAAAIsAAACMAAAAjQAAAI4AAACPAAAAkAAAAJEAAACSAAAA"
    "kwAAAJQAAACVAAAAlgAAAJcAAACYAAAAmQAAAJoAAACbAAAAnAAAAJ0AAACeAAAAnwAAAKAAAAChAAAAogAAAKMAAACkAAAApQAAAKYAAACnAA"
    "AAqAAAAKkAAACqAAAAqwAAAKwAAACtAAAArgAAAK8AAACwAAAAsQAAALIAAACzAAAAtAAAALUAAAC2AAAAtwAAALgAAAC5AAAAugAAALsAAAC8"
    "AAAAvQAAAL4AAAC/AAAAwAAAAMEAAADCAAAAwwAAAMQAAADFAAAAxgAAAMcAAADIAAAAyQAAAMoAAADLAAAAzAAAAM0AAADOAAAAzwAAANAAAA"
    "DRAAAA0gAAANMAAADUAAAA1QAAANYAAADXAAAA2AAAANkAAADaAAAA2wAAANwAAADdAAAA3gAAAN8AAADgAAAA4QAAAOIAAADjAAAA5AAAAOUA"
    "AADmAAAA5wAAAOgAAADpAAAA6gAAAOsAAADsAAAA7QAAAO4AAADvAAAA8AAAAPEAAADyAAAA8wAAAPQAAAD1AAAA9gAAAPcAAAD4AAAA+QAAAP"
    "oAAAD7AAAA/AAAAP0AAAD+AAAA/wAAAGIAYwA="
)


def build_probe_charsmap() -> bytes:
    """How PROBE_CHARSMAP was made (needs sentencepiece): a normalization rule per code point, one throwaway model."""
    import io
    import tempfile

    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        for cp in code_points():
            if cp not in (0, LF):
                f.write(f"{cp:X}\t{0x63 if cp == 0x62 else 0x62:X}\n")
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["hello world"] * 50), model_writer=buf, vocab_size=20,
                                   model_type="char", normalization_rule_tsv=f.name, minloglevel=2,
                                   add_dummy_prefix=False, remove_extra_whitespaces=False)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(buf.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def code_points():
    return (cp for cp in range(0x110000) if not 0xD800 <= cp < 0xE000)


def _each(normalize, pieces: list[str]) -> list[str]:
    """normalize(piece) for each piece in one call: LF-separated (every normalizer measured here keeps LF, and
    nothing composes, reorders or clusters across it)."""
    out = normalize("\n".join(pieces)).split("\n")
    assert len(out) == len(pieces), "a normalizer changed the LF separators"
    return out


def _per_code_point(normalize, cps: list[int]) -> list[str]:
    return _each(normalize, [chr(cp) for cp in cps])


def _bert(tables: dict) -> None:
    from tokenizers import normalizers as N
    from tokenizers import pre_tokenizers as P

    clean = N.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    strip = N.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    lower = N.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
    chinese = N.BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    pre = P.BertPreTokenizer()
    sets = {k: [] for k in ("removed", "space", "split", "punct", "cjk")}
    maps = {"strip": {}, "lower": {}}
    for cp in code_points():
        c = chr(cp)
        cleaned = clean.normalize_str(c)
        if cleaned == "":
            sets["removed"].append(cp)
        elif cleaned == " ":
            sets["space"].append(cp)
        if chinese.normalize_str(c) != c:
            sets["cjk"].append(cp)
        pieces = [t for t, _ in pre.pre_tokenize_str("a" + c + "b")]
        if pieces == ["a", c, "b"]:
            sets["punct"].append(cp)
        elif pieces == ["a", "b"]:
            sets["split"].append(cp)
        for name, norm in (("strip", strip), ("lower", lower)):
            out = norm.normalize_str(c)
            if out != c:
                maps[name][cp] = out
    tables["sets"].update(sets)
    tables["maps"].update(maps)


def _regex_and_whitespace(tables: dict) -> None:
    from tokenizers import Regex
    from tokenizers import normalizers as N
    from tokenizers import pre_tokenizers as P

    everything = "".join(chr(cp) for cp in code_points())
    for name, complement in (("regex_space", r"\S"), ("regex_letter", r"\P{L}"), ("regex_number", r"\P{N}")):
        tables["sets"][name] = [ord(c) for c in N.Replace(Regex(complement), "").normalize_str(everything)]
    split = P.WhitespaceSplit()
    tables["sets"]["whitespace"] = [cp for cp in code_points()
                                    if [t for t, _ in split.pre_tokenize_str("a" + chr(cp) + "b")] == ["a", "b"]]
    lower = N.Lowercase()
    cps = [cp for cp in code_points() if cp != LF]
    # Oracle only: the Lowercase normalizer (Rust char::to_lowercase per character) must equal the BERT `lower` map.
    tables["oracle"]["lowercase"] = {cp: o for cp, o in zip(cps, _per_code_point(lower.normalize_str, cps))
                                   if o != chr(cp)}


def _normalization_forms(tables: dict) -> None:
    from tokenizers import normalizers as N

    cps = [cp for cp in code_points() if cp != LF]
    forms = {name: getattr(N, name.upper())() for name in ("nfc", "nfd", "nfkc", "nfkd")}
    single = {name: {cp: o for cp, o in zip(cps, _per_code_point(n.normalize_str, cps)) if o != chr(cp)}
              for name, n in forms.items()}
    nfd, nfc = single["nfd"], single["nfc"]

    def hangul(cp):
        return HANGUL_FIRST <= cp <= HANGUL_LAST

    # Canonical combining classes of the non-decomposable marks: NFD swaps a, b (adjacent) iff ccc(a) > ccc(b) > 0.
    reorder = forms["nfd"].normalize_str
    plain = [cp for cp in cps if cp not in nfd]
    probe1 = _each(reorder, [chr(cp) + "\u0334" for cp in plain])  # U+0334: ccc 1
    probe230 = _each(reorder, ["\u0300" + chr(cp) for cp in plain])  # U+0300: ccc 230
    marks = [cp for cp, a, b in zip(plain, probe1, probe230)
             if a == "\u0334" + chr(cp) or b == chr(cp) + "\u0300" or cp == 0x300]

    def compare(a, b):
        if a == b:
            return 0
        if reorder(chr(a) + chr(b)) == chr(b) + chr(a):
            return 1
        return -1 if reorder(chr(b) + chr(a)) == chr(a) + chr(b) else 0

    classes: list[list[int]] = []
    for cp in sorted(marks, key=functools.cmp_to_key(compare)):
        if classes and compare(classes[-1][0], cp) == 0:
            classes[-1].append(cp)
        else:
            classes.append([cp])
    # Label each measured class with its Unicode value when unicodedata agrees on the whole ordered partition (it
    # did for tokenizers 0.23.3), else with its rank: the algorithm only compares classes.
    import unicodedata

    labels = [{unicodedata.combining(chr(cp)) for cp in cl} for cl in classes]
    values = [next(iter(v)) for v in labels] if all(len(v) == 1 and 0 not in v for v in labels) else []
    if values != sorted(set(values)) or len(values) != len(classes):
        values = list(range(1, len(classes) + 1))
    ccc = {cp: value for cl, value in zip(classes, values) for cp in cl}

    compose = {}
    for cp, d in nfd.items():
        if hangul(cp) or cp in nfc:  # NFC(cp) != cp: excluded, singleton or non-starter decomposition
            continue
        first = forms["nfc"].normalize_str(d[:-1])
        assert len(first) == 1, f"U+{cp:04X}: cannot derive its composition pair"
        compose[cp] = first + d[-1]
    tables["maps"]["nfd"] = {cp: d for cp, d in nfd.items() if not hangul(cp)}
    tables["maps"]["nfkd"] = {cp: d for cp, d in single["nfkd"].items() if not hangul(cp) and nfd.get(cp) != d}
    tables["maps"]["compose"] = compose
    tables["values"]["ccc"] = ccc
    # Oracle only (not in UnicodeTables.kt): what NFC/NFKC make of each single code point.
    tables["oracle"]["nfc_single"] = single["nfc"]
    tables["oracle"]["nfkc_single"] = single["nfkc"]


def _graphemes(tables: dict) -> None:
    from tokenizers import normalizers as N

    probe = N.Precompiled(base64.b64decode("".join(PROBE_CHARSMAP)))
    cps = [cp for cp in code_points() if cp not in (LF, 0x0D)]

    def joined(pieces):  # one output character: the piece was one cluster (every key maps to one character)
        return [len(o) == 1 for o in _each(probe.normalize_str, pieces)]

    extend = [cp for cp, j in zip(cps, joined(["a" + chr(cp) for cp in cps])) if j]
    prepend = [cp for cp, j in zip(cps, joined([chr(cp) + "a" for cp in cps])) if j]
    # c + U+0301 is under 6 bytes only for c in the BMP; a supplementary control never matters (see docstring).
    bmp = [cp for cp in cps if cp < 0x10000]
    control = sorted([cp for cp, j in zip(bmp, joined([chr(cp) + "\u0301" for cp in bmp])) if not j] + [LF, 0x0D])
    assert probe.normalize_str("\r\n") == "b", "CR LF is no longer one grapheme cluster"
    tables["sets"].update(grapheme_extend=extend, grapheme_prepend=prepend, grapheme_control=control)


def probe() -> dict:
    """Measure every class and mapping the Kotlin text package uses (see the module docstring)."""
    tables: dict = {"sets": {}, "maps": {}, "values": {}, "oracle": {}}
    _bert(tables)
    _regex_and_whitespace(tables)
    _normalization_forms(tables)
    _graphemes(tables)
    return tables


def ranges(cps: list[int]) -> str:
    out, start, prev = [], None, None
    for cp in cps:
        if start is not None and cp == prev + 1:
            prev = cp
            continue
        if start is not None:
            out.append(f"{start:x}-{prev:x}" if prev != start else f"{start:x}")
        start = prev = cp
    if start is not None:
        out.append(f"{start:x}-{prev:x}" if prev != start else f"{start:x}")
    return " ".join(out)


def mapping(m: dict[int, str]) -> str:
    return " ".join(f"{cp:x}=" + ".".join(f"{ord(ch):x}" for ch in v) for cp, v in sorted(m.items()))


def valued_ranges(m: dict[int, int]) -> str:
    """Runs of consecutive code points with one value: "300-314=e6 315=e8" (hex)."""
    out, run = [], None
    for cp, v in sorted(m.items()):
        if run and cp == run[1] + 1 and v == run[2]:
            run[1] = cp
            continue
        if run:
            out.append(run)
        run = [cp, cp, v]
    if run:
        out.append(run)
    return " ".join((f"{a:x}-{b:x}" if a != b else f"{a:x}") + f"={v:x}" for a, b, v in out)


def chunks(s: str, size: int = 20000) -> list[str]:
    # A JVM string constant holds at most 65535 bytes; stay well below.
    parts, cur = [], []
    for tok in s.split(" "):
        if cur and sum(len(t) + 1 for t in cur) + len(tok) > size:
            parts.append(" ".join(cur))
            cur = []
        cur.append(tok)
    parts.append(" ".join(cur))
    return parts


def kotlin(tables: dict) -> str:
    import tokenizers

    lines = [
        ("// GENERATED by android-demo/tools/unicode_tables.py from the Hugging Face `tokenizers` "
         f"{tokenizers.__version__} normalizers/pre-tokenizers."),
        "// Do not edit: regenerate with `python android-demo/tools/unicode_tables.py kotlin > UnicodeTables.kt`.",
        "// Why tables: see the script's docstring (platform Unicode versions disagree with the Rust tokenizer).",
        "package dev.edgeport.demo.text",
        "",
        "internal object UnicodeTables {",
        f'    const val TOKENIZERS_VERSION = "{tokenizers.__version__}"',
    ]
    for name, cps in tables["sets"].items():
        lines.append(f"    val {name.upper()}: String = " + " +\n        ".join(f'"{p}"' for p in chunks(ranges(cps))))
    for name, m in tables["maps"].items():
        m = {cp: v for cp, v in m.items() if not (name == "strip" and HANGUL_FIRST <= cp <= HANGUL_LAST)}
        lines.append(f"    val {name.upper()}_MAP: Array<String> = arrayOf(\n" +
                     ",\n".join(f'        "{p}"' for p in chunks(mapping(m))) + ",\n    )")
    for name, m in tables["values"].items():
        lines.append(f"    val {name.upper()}: String = " + " +\n        ".join(f'"{p}"' for p in chunks(valued_ranges(m))))
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_probe(tables: dict, path: str) -> None:
    """One line per table, same encoding as the Kotlin constants: the JVM test compares both exhaustively."""
    with open(path, "w", encoding="ascii") as f:
        f.writelines(f"{name} {ranges(cps)}\n" for name, cps in tables["sets"].items())
        f.writelines(f"{name} {mapping(m)}\n" for name, m in list(tables["maps"].items()) + list(tables["oracle"].items()))
        f.writelines(f"{name} {valued_ranges(m)}\n" for name, m in tables["values"].items())


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "kotlin":
        sys.stdout.write(kotlin(probe()))
    elif len(sys.argv) == 3 and sys.argv[1] == "probe":
        write_probe(probe(), sys.argv[2])
    else:
        sys.exit("usage: unicode_tables.py kotlin | probe OUT.txt")
