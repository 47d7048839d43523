"""Answering: retrieve, prompt, generate or extract, verify citations."""
