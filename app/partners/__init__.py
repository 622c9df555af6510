"""What partners use to keep a copy of the content: feeds, the change log, the bulk export."""
