"""Sub-commands of the ``llmcost`` command line, one module each."""
