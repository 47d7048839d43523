"""A local, private question-answering assistant over a folder of documents, with checkable citations."""
