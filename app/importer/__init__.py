"""data/ files -> validated write shapes -> one transaction through the write path."""
