"""Pages a person can read: server-rendered HTML for topics (`/topics/{slug}`) and the Infobutton answer."""
