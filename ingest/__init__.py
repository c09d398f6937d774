"""Reading news articles into a Citewire library: files in, chunks embedded and stored."""

from ingest.chunking import Chunker, embedding_text
from ingest.pipeline import IngestReport, ingest, ingest_items
from ingest.readers import SUFFIXES, Problem, read_file, read_paths, read_upload

__all__ = [
    "SUFFIXES",
    "Chunker",
    "IngestReport",
    "Problem",
    "embedding_text",
    "ingest",
    "ingest_items",
    "read_file",
    "read_paths",
    "read_upload",
]
