"""Masked-language-model pre-training pieces: masking (``masking``), examples and sentence-order pairs
(``examples``), the model wrapper, scoring and saving (``model``) and ``edgeport fill-mask`` (``fillmask``).
The pretrain stage (``stages/pretrain.py``) puts them together on the one training recipe. Nothing heavy is
imported here."""
