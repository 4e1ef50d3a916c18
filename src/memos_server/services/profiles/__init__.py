"""Profiles, the Cloud's Property Tree: templates of fields per project (``templates``), one
profile per bound user or agent (``instances``), the one writer of field changes and their
history (``writer``), and the tree the client writes them as (``trees``)."""
