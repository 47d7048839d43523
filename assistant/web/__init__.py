"""The Gradio web UI shell."""
