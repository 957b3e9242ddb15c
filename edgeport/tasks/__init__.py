"""The task registry: one small declarative entry per task (sequence classification, sentence embeddings, token
classification), read by the stages instead of if-chains on the task."""
