"""What the tests share, one role per module: where things are (``paths``), the service in a
thread (``service``) or as its own process (``process``), the envelope-aware client (``api``),
the database beneath it (``database``), memories stored or built without the API
(``memories``), seed conversations (``conversations``), polling (``waiting``), knowledge-base
documents (``knowledge``) and the deployment files read as text (``deploy_files``).

Import a name from the module that holds it; this package re-exports nothing.
"""
