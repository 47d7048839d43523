"""Text handling shared by every stage: sentences, languages, untrusted text."""
