package dev.edgeport.demo.text

/**
 * Builds the app's tokenizer from labels.json's `tokenizer` section (written by `edgeport android`) and the assets it
 * names. Families:
 *
 * - `wordpiece`: [BertTokenizer] on `vocab.txt` (BERT normalizer + pre-tokenizer, `[CLS] A [SEP] B [SEP]`);
 * - `bpe`: [Bpe] on `vocab.txt` (one token per id) + `merges.txt` (rank order), usually with the `ByteLevel`
 *   pre-tokenizer (RoBERTa);
 * - `unigram`: [Unigram] on `unigram.tsv` (piece, score per id), with Metaspace and the checkpoint's normalizer,
 *   e.g. SentencePiece's `Precompiled` charsmap (XLM-R) or DeBERTa-v2's Replace/NFC/Strip sequence.
 *
 * The bpe/unigram section mirrors tokenizer.json: `normalizer`, `pre_tokenizer` (by tokenizer.json names; a
 * ByteLevel carries its regex), `model`, `post_processor` (a template: `single`/`pair` items), `added_tokens`,
 * `pad_id`, `token_type_ids` (whether the Python tokenizer returns them; otherwise the model gets zeros).
 */
object TokenizerSpec {
    /** The asset files a tokenizer section needs (for error messages and for the JVM tests). */
    fun assetNames(spec: Map<*, *>?): List<String> {
        if (spec == null) return listOf("vocab.txt")
        val files = (spec["files"] as Map<*, *>?)?.values?.map { it as String } ?: emptyList()
        return files + charsmapAssets(spec["normalizer"] as Map<*, *>?)
    }

    private fun charsmapAssets(n: Map<*, *>?): List<String> = when {
        n == null -> emptyList()
        n["type"] == "Precompiled" -> listOf(n["charsmap"] as String)
        n["type"] == "Sequence" -> (n["normalizers"] as List<*>).flatMap { charsmapAssets(it as Map<*, *>) }
        else -> emptyList()
    }

    fun build(
        spec: Map<*, *>?,
        seqLen: Int,
        readAsset: (String) -> String,
        legacy: ModelInfo? = null,
    ): TextTokenizer {
        val family = spec?.get("family") as String? ?: "wordpiece"
        val files = spec?.get("files") as Map<*, *>? ?: emptyMap<String, Any>()
        val typeIds = spec?.get("token_type_ids") as? Boolean ?: true
        return when (family) {
            "wordpiece" -> {
                val vocab = Vocab.parse(readAsset(files["vocab"] as String? ?: "vocab.txt"))
                val norm = spec?.get("normalizer") as Map<*, *>?
                val lower = norm?.get("lowercase") as? Boolean ?: legacy?.doLowerCase ?: true
                val strip = if (norm != null) norm["strip_accents"] as Boolean? else legacy?.stripAccents
                val specials = (spec?.get("added_tokens") as List<*>?)?.map { (it as Map<*, *>)["content"] as String }
                    ?: legacy?.specialTokens ?: BertTokenizer.DEFAULT_SPECIAL_TOKENS
                BertTokenizer(vocab, seqLen, BertNormalizer(lower, strip), specials, typeIds)
            }
            "bpe", "unigram" -> {
                spec!!
                val modelSpec = spec["model"] as Map<*, *>
                val model: TokenModel = if (family == "bpe") {
                    Bpe(
                        Vocab.parseLines(readAsset(files["vocab"] as String)),
                        Bpe.parseMerges(readAsset(files["merges"] as String)),
                        unkToken = modelSpec["unk_token"] as String?,
                        fuseUnk = modelSpec["fuse_unk"] as? Boolean ?: false,
                        byteFallback = modelSpec["byte_fallback"] as? Boolean ?: false,
                        continuingSubwordPrefix = modelSpec["continuing_subword_prefix"] as String?,
                        endOfWordSuffix = modelSpec["end_of_word_suffix"] as String?,
                        ignoreMerges = modelSpec["ignore_merges"] as? Boolean ?: false,
                    )
                } else {
                    Unigram(
                        Unigram.parsePieces(readAsset(files["pieces"] as String)),
                        (modelSpec["unk_id"] as Double).toInt(),
                        modelSpec["byte_fallback"] as? Boolean ?: false,
                    )
                }
                val added = (spec["added_tokens"] as List<*>? ?: emptyList<Any>()).map {
                    val t = it as Map<*, *>
                    AddedToken(
                        t["content"] as String,
                        (t["id"] as Double).toInt(),
                        t["lstrip"] as? Boolean ?: false,
                        t["rstrip"] as? Boolean ?: false,
                        t["normalized"] as? Boolean ?: false,
                    )
                }
                PipelineTokenizer(
                    seqLen,
                    AddedTokens(added),
                    Normalizers.fromSpec(spec["normalizer"] as Map<*, *>?, readAsset),
                    PreTokenizers.fromSpec(spec["pre_tokenizer"] as Map<*, *>?),
                    model,
                    Template.fromSpec(spec["post_processor"] as Map<*, *>),
                    (spec["pad_id"] as Double).toInt(),
                    typeIds,
                )
            }
            else -> throw IllegalArgumentException("labels.json: tokenizer family '$family' is not implemented in the app")
        }
    }
}
