package dev.edgeport.demo.text

import java.io.File

/**
 * Where the golden vectors for the JVM tests live: `-Dedgeport.golden.dir=DIR` (set by run-jvm-tests.sh, which
 * generates them from the Python tokenizers), else the app's assets written by `edgeport android`.
 * With `-Dedgeport.golden.required=true` a missing file is an error instead of zero cases.
 *
 * A golden directory holds golden*.json plus the tokenizer they were made with: labels.json (its `tokenizer`
 * section and the files it names, as in the app's assets) or, for the MiniLM goldens, vocab.txt +
 * tokenizer-flags.json. run-jvm-tests.sh adds one directory per tokenizer family under `families/`.
 */
object GoldenFiles {
    val dir: File? = (System.getProperty("edgeport.golden.dir")?.let { File(it) }
        ?: listOf(File("src/main/assets"), File("app/src/main/assets")).firstOrNull { File(it, "golden.json").isFile })
        ?.takeIf { it.isDirectory }

    val required: Boolean = System.getProperty("edgeport.golden.required") == "true"

    /** One directory of goldens and the tokenizer that produced them. */
    class GoldenDir(val name: String, val dir: File) {
        val labels: File? get() = File(dir, "labels.json").takeIf { it.isFile }

        val info: ModelInfo? by lazy { labels?.let { ModelInfo.parse(it.readText()) } }

        /** wordpiece, bpe or unigram (and the architecture the tokenizer belongs to, for family dirs). */
        val family: String get() = info?.tokenizerFamily ?: "wordpiece"

        fun goldenFiles(): List<File> =
            dir.listFiles { f -> f.name.startsWith("golden") && f.name.endsWith(".json") }?.sortedBy { it.name } ?: emptyList()

        fun read(name: String): String = File(dir, name).also { require(it.isFile) { "missing $name in $dir" } }.readText()

        fun tokenizer(seqLen: Int): TextTokenizer {
            info?.let { return TokenizerSpec.build(it.tokenizerSpec, seqLen, ::read, it) }
            val vocab = Vocab.parse(read("vocab.txt"))
            val flags = File(dir, "tokenizer-flags.json").takeIf { it.isFile }
                ?.let { MiniJson.parse(it.readText()) as Map<*, *> } ?: emptyMap<String, Any>()
            val specials = (flags["special_tokens"] as List<*>?)?.map { it as String } ?: BertTokenizer.DEFAULT_SPECIAL_TOKENS
            val normalizer = BertNormalizer(flags["do_lower_case"] as? Boolean ?: true, flags["strip_accents"] as Boolean?)
            return BertTokenizer(vocab, seqLen, normalizer, specials)
        }

        /**
         * How the screen of this directory's model encodes a golden case ([OutputCheck.encode]): a question-answering
         * model's window of question + paragraph; otherwise (and without labels.json) the tokenizer's text or pair.
         */
        fun encoder(tokenizer: TextTokenizer): (GoldenCase) -> Encoding {
            val check = info?.let { OutputChecks.forModel(it, tokenizer) } ?: return { c -> tokenizer.encode(c.text, c.textPair) }
            return { c -> check.encode(c, tokenizer) }
        }

        override fun toString() = name
    }

    /** The root directory (when it holds goldens) and every family directory under families/. */
    fun dirs(): List<GoldenDir> {
        val root = dir ?: return if (required) error("edgeport.golden.dir unset") else emptyList()
        val out = ArrayList<GoldenDir>()
        val rootDir = GoldenDir(if (File(root, "labels.json").isFile) "assets" else "minilm", root)
        if (rootDir.goldenFiles().isNotEmpty()) out.add(rootDir)
        File(root, "families").listFiles { f -> f.isDirectory }?.sortedBy { it.name }?.forEach { out.add(GoldenDir(it.name, it)) }
        if (out.isEmpty() && required) error("no golden*.json in $root")
        return out
    }

    /** Family directories only (empty when the goldens are the app's assets). */
    fun familyDirs(): List<GoldenDir> = dirs().filter { it.dir != dir }

    fun file(name: String): File? = optionalFile(name) ?: if (required) error("missing $name in $dir") else null

    fun optionalFile(name: String): File? = dir?.let { File(it, name) }?.takeIf { it.isFile }
}
