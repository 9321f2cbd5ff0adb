"""English (en, en-us): the console's date formats."""
