"""The benchmark tool."""
