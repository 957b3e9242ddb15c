package dev.edgeport.demo.text

import java.io.File

/**
 * Where the golden vectors for the JVM tests live: `-Dedgeport.golden.dir=DIR` (set by run-jvm-tests.sh, which
 * generates them from the Python tokenizer), else the app's assets written by `edgeport android`.
 * With `-Dedgeport.golden.required=true` a missing file is an error instead of zero cases.
 */
object GoldenFiles {
    val dir: File? = (System.getProperty("edgeport.golden.dir")?.let { File(it) }
        ?: listOf(File("src/main/assets"), File("app/src/main/assets")).firstOrNull { File(it, "golden.json").isFile })
        ?.takeIf { it.isDirectory }

    val required: Boolean = System.getProperty("edgeport.golden.required") == "true"

    fun goldenFiles(): List<File> {
        val files = dir?.listFiles { f -> f.name.startsWith("golden") && f.name.endsWith(".json") }?.sortedBy { it.name }
        if (files.isNullOrEmpty() && required) error("no golden*.json in ${dir ?: "(edgeport.golden.dir unset)"}")
        return files ?: emptyList()
    }

    fun file(name: String): File? = optionalFile(name) ?: if (required) error("missing $name in $dir") else null

    fun optionalFile(name: String): File? = dir?.let { File(it, name) }?.takeIf { it.isFile }

    /** The tokenizer for these goldens: vocab.txt plus the flags in labels.json (app) or tokenizer-flags.json. */
    fun tokenizer(seqLen: Int): BertTokenizer {
        val vocab = Vocab.parse(file("vocab.txt")!!.readText())
        val flags = (optionalFile("labels.json") ?: optionalFile("tokenizer-flags.json"))
            ?.let { MiniJson.parse(it.readText()) as Map<*, *> } ?: emptyMap<String, Any>()
        val specials = (flags["special_tokens"] as List<*>?)?.map { it as String } ?: BertTokenizer.DEFAULT_SPECIAL_TOKENS
        val normalizer = BertNormalizer(flags["do_lower_case"] as? Boolean ?: true, flags["strip_accents"] as Boolean?)
        return BertTokenizer(vocab, seqLen, normalizer, specials)
    }
}
