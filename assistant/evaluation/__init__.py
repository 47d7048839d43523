"""The evaluation tool: grade answers on a question set."""
