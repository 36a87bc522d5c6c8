"""One module per section of the report; each `section_*` function adds its tables to the report."""
