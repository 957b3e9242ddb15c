"""INT8 beyond one-shot post-training quantization: quantization-aware training and the accuracy-aware fallback.

Library code for the ``quantize`` stage; see ARCHITECTURE.md "Calibrated INT8, QAT and fallback".
"""
