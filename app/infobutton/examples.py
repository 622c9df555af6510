# ruff: noqa: E501  (the answers are kept as the server sends them, one line each)
"""Example answers for the OpenAPI document: real answers to a request for ICD-10-CM G35.A over the seed
content (regenerate them when the answer changes)."""

ATOM_EXAMPLE = '<?xml version=\'1.0\' encoding=\'utf-8\'?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en" xml:base="http://127.0.0.1:8000/"><title type="text">Health-content API: ICD-10-CM G35.A (Relapsing-remitting multiple sclerosis)</title><subtitle type="text">1 topic for ICD-10-CM G35.A (Relapsing-remitting multiple sclerosis)</subtitle><author><name>Health-content API</name><uri>http://127.0.0.1:8000/</uri></author><updated>2026-11-30T19:14:09Z</updated><id>tag:health-content.dev,2026:infobutton:676cbd9cc309d13d8697a5ac</id><link rel="self" type="text/xml" href="http://127.0.0.1:8000/v1/infobutton?mainSearchCriteria.v.cs=2.16.840.1.113883.6.90&amp;mainSearchCriteria.v.c=G35.A&amp;mainSearchCriteria.v.dn=Relapsing-remitting+multiple+sclerosis&amp;informationRecipient.languageCode.c=es" /><category scheme="mainSearchCriteria.v.cs" term="2.16.840.1.113883.6.90" /><category scheme="mainSearchCriteria.v.c" term="G35.A" /><category scheme="mainSearchCriteria.v.dn" term="Relapsing-remitting multiple sclerosis" /><category scheme="informationRecipient.languageCode.c" term="es" /><entry xml:lang="en"><title type="text">The Link Between Gut Microbiome Imbalance and Autoimmune Disorders</title><link rel="alternate" type="text/html" href="http://127.0.0.1:8000/topics/microbiome-imbalance-autoimmune-link" hreflang="en" title="The Link Between Gut Microbiome Imbalance and Autoimmune Disorders" /><link rel="related" type="application/json" href="http://127.0.0.1:8000/v1/topics/microbiome-imbalance-autoimmune-link" hreflang="en" title="The Link Between Gut Microbiome Imbalance and Autoimmune Disorders (JSON)" /><id>tag:health-content.dev,2026:topic:microbiome-imbalance-autoimmune-link</id><updated>2026-11-30T19:14:09Z</updated><summary type="html">&lt;p&gt;People with autoimmune diseases such as rheumatoid arthritis, multiple sclerosis and inflammatory bowel disease have altered gut microbiota, and imbalance may drive inflammation through a leaky gut.&lt;/p&gt;&lt;ul&gt;&lt;li&gt;Rheumatoid arthritis, multiple sclerosis and inflammatory bowel disease have each been associated with an altered gut microbiome. &lt;small&gt;(evidence: studies; strength: low)&lt;/small&gt;&lt;/li&gt;&lt;/ul&gt;</summary><category scheme="https://health-content.dev/infobutton/match" term="ancestor-code" label="ICD-10-CM G35: Multiple sclerosis" /></entry></feed>'

JSON_EXAMPLE: dict = {
    "feed": {
        "base": "http://127.0.0.1:8000/",
        "lang": "en",
        "title": {
            "_value": "Health-content API: ICD-10-CM G35.A (Relapsing-remitting multiple sclerosis)",
            "type": "text",
        },
        "subtitle": {"_value": "1 topic for ICD-10-CM G35.A (Relapsing-remitting multiple sclerosis)", "type": "text"},
        "author": [{"name": {"_value": "Health-content API"}, "uri": {"_value": "http://127.0.0.1:8000/"}}],
        "updated": {"_value": "2026-11-30T19:14:09Z"},
        "id": {"_value": "tag:health-content.dev,2026:infobutton:296f86b93010c72a8b19fe63"},
        "link": [
            {
                "rel": "self",
                "type": "application/json",
                "href": "http://127.0.0.1:8000/v1/infobutton?mainSearchCriteria.v.cs=2.16.840.1.113883.6.90&mainSearchCriteria.v.c=G35.A&mainSearchCriteria.v.dn=Relapsing-remitting+multiple+sclerosis&informationRecipient.languageCode.c=es&knowledgeResponseType=application%2Fjson",
            }
        ],
        "category": [
            {"scheme": "mainSearchCriteria.v.cs", "term": "2.16.840.1.113883.6.90"},
            {"scheme": "mainSearchCriteria.v.c", "term": "G35.A"},
            {"scheme": "mainSearchCriteria.v.dn", "term": "Relapsing-remitting multiple sclerosis"},
            {"scheme": "informationRecipient.languageCode.c", "term": "es"},
            {"scheme": "knowledgeResponseType", "term": "application/json"},
        ],
        "entry": [
            {
                "lang": "en",
                "title": {
                    "_value": "The Link Between Gut Microbiome Imbalance and Autoimmune Disorders",
                    "type": "text",
                },
                "link": [
                    {
                        "rel": "alternate",
                        "type": "text/html",
                        "href": "http://127.0.0.1:8000/topics/microbiome-imbalance-autoimmune-link",
                        "hreflang": "en",
                        "title": "The Link Between Gut Microbiome Imbalance and Autoimmune Disorders",
                    },
                    {
                        "rel": "related",
                        "type": "application/json",
                        "href": "http://127.0.0.1:8000/v1/topics/microbiome-imbalance-autoimmune-link",
                        "hreflang": "en",
                        "title": "The Link Between Gut Microbiome Imbalance and Autoimmune Disorders (JSON)",
                    },
                ],
                "id": {"_value": "tag:health-content.dev,2026:topic:microbiome-imbalance-autoimmune-link"},
                "updated": {"_value": "2026-11-30T19:14:09Z"},
                "summary": {
                    "type": "html",
                    "_value": "<p>People with autoimmune diseases such as rheumatoid arthritis, multiple sclerosis and inflammatory bowel disease have altered gut microbiota, and imbalance may drive inflammation through a leaky gut.</p><ul><li>Rheumatoid arthritis, multiple sclerosis and inflammatory bowel disease have each been associated with an altered gut microbiome. <small>(evidence: studies; strength: low)</small></li></ul>",
                },
                "category": [
                    {
                        "scheme": "https://health-content.dev/infobutton/match",
                        "term": "ancestor-code",
                        "label": "ICD-10-CM G35: Multiple sclerosis",
                    }
                ],
            }
        ],
    }
}

HTML_EXAMPLE = '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>Health-content API: ICD-10-CM G35.A (Relapsing-remitting multiple sclerosis)</title>\n<link rel="icon" href="data:,">\n<style>...</style>\n</head>\n<body>\n<main id="main">\n<h1>Health-content API: ICD-10-CM G35.A (Relapsing-remitting multiple sclerosis)</h1>\n<p>1 topic for ICD-10-CM G35.A (Relapsing-remitting multiple sclerosis). Asked for language &ldquo;es&rdquo;; answered in &ldquo;en&rdquo;, the language the content is written in.</p>\n<ol class="entries">\n<li lang="en">\n<h2><a href="http://127.0.0.1:8000/topics/microbiome-imbalance-autoimmune-link" hreflang="en" type="text/html">The Link Between Gut Microbiome Imbalance and Autoimmune Disorders</a></h2>\n<p><span class="match">Matched: ancestor-code</span> ICD-10-CM G35: Multiple sclerosis</p>\n<p>People with autoimmune diseases such as rheumatoid arthritis, multiple sclerosis and inflammatory bowel disease have altered gut microbiota, and imbalance may drive inflammation through a leaky gut.</p><ul><li>Rheumatoid arthritis, multiple sclerosis and inflammatory bowel disease have each been associated with an altered gut microbiome. <small>(evidence: studies; strength: low)</small></li></ul>\n</li>\n</ol>\n<details>\n<summary>The request</summary>\n<dl>\n<dt>mainSearchCriteria.v.cs</dt><dd>2.16.840.1.113883.6.90</dd>\n<dt>mainSearchCriteria.v.c</dt><dd>G35.A</dd>\n<dt>mainSearchCriteria.v.dn</dt><dd>Relapsing-remitting multiple sclerosis</dd>\n<dt>informationRecipient.languageCode.c</dt><dd>es</dd>\n<dt>knowledgeResponseType</dt><dd>text/html</dd>\n</dl>\n</details>\n</main>\n</body>\n</html>\n'
