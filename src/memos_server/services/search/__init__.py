"""Search: the two channels fused and ranked (``engine``), newer over older (``recency``), the
relevance floor (``relevance``), the optional reranker (``reranking``), per-user HNSW indexes
(``vector_indexes``), and the instruction prompts made from what was found (``instructions``)."""
