"""The HL7 Infobutton knowledge resource: `GET`/`POST /v1/infobutton` (request parsing, the matching
cascade, and the Atom, JSON and HTML answers)."""
