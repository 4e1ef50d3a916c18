"""Text tools with no knowledge of memories or storage: index tokens (``tokens``), conversation
windows and sentences (``windows``), time words (``time_words``), language (``language``), and
the one definition of the CJK writing systems (``writing_systems``)."""
