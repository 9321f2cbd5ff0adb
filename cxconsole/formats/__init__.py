"""Display formats of the console's dates (FORMAT_MODULE_PATH): compact, 24-hour, ISO order."""
