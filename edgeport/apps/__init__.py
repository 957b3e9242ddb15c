"""The deployment side: what a shipping command writes for an app from a run directory.

``shipping`` decides what may ship (validate's verdicts, the recorded bytes); ``android`` writes the demo app's
assets (``android_model`` reads a TFLite file's inputs/outputs and quantization for it); ``mediapipe`` writes
MediaPipe Tasks metadata into a copy of the TFLite file and checks it with MediaPipe's own task. Each reads the
run's task entry (``edgeport.tasks``) for what the model outputs; nothing here is imported by a stage.
"""
