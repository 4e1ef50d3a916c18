"""Request and response models of the MemOS Cloud API."""
