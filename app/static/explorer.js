// The explorer: a small client of the API with no build step. Every text from the API is inserted with
// textContent (never as HTML), so content can never run as markup.
"use strict";

(function () {
  const PLURAL = {
    condition: "conditions", therapy: "therapies", expert: "experts", source: "sources",
    topic: "topics", claim: "claims", quote: "quotes",
  };
  const FIT = {
    within: "Speaks within their specialty",
    near: "Speaks near their specialty",
    outside: "Speaks outside their specialty",
  };
  const experts = new Map();
  let generation = 0;

  const $ = (id) => document.getElementById(id);

  /** Make an element with optional class and text; text is always set as textContent. */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** A link to a topic's page a person reads (`topics/{slug}`, HTML), relative to this page like every
   * other request the explorer makes, so it follows the prefix the API is served under. */
  function topicLink(topic, text) {
    const link = el("a", "topic-link", text);
    link.href = "topics/" + encodeURIComponent(topic.slug);
    link.type = "text/html";
    return link;
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  /** GET a path relative to this page (so the page works under any prefix). */
  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      let detail = response.statusText || "request failed";
      try {
        const body = await response.json();
        if (body && body.detail) detail = body.detail;
      } catch (_) { /* not JSON: keep the status text */ }
      throw new ApiError(response.status, detail);
    }
    return response.json();
  }

  /** Every item of a list, following next_cursor (bounded, so a broken server cannot loop us). */
  async function getAll(path) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < 20; page += 1) {
      const sep = path.includes("?") ? "&" : "?";
      const url = path + sep + "limit=100" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const body = await getJson(url);
      items.push(...body.items);
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  function setStatus(text, isError) {
    const status = $("status");
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function selection() {
    return { condition: $("condition").value, therapy_type: $("therapy-type").value };
  }

  function filterQuery(sel) {
    const params = new URLSearchParams();
    if (sel.condition) params.append("condition", sel.condition);
    if (sel.therapy_type) params.append("therapy_type", sel.therapy_type);
    return params.toString();
  }

  // ---- the choices ---------------------------------------------------------------------------------

  function fillConditions(conditions) {
    const select = $("condition");
    const children = new Map();
    for (const c of conditions) {
      const parent = c.parent ? c.parent.slug : "";
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(c);
    }
    const known = new Set(conditions.map((c) => c.slug));
    const add = (parent, depth) => {
      const list = (children.get(parent) || []).slice().sort((a, b) => a.name.localeCompare(b.name));
      for (const c of list) {
        const option = el("option", null, "\u2003".repeat(depth) + c.name);
        option.value = c.slug;
        select.append(option);
        add(c.slug, depth + 1);
      }
    };
    add("", 0);
    // Conditions whose parent is not published still get listed, at the top level.
    for (const [parent, list] of children) {
      if (parent && !known.has(parent)) for (const c of list) {
        const option = el("option", null, c.name);
        option.value = c.slug;
        select.append(option);
      }
    }
  }

  function fillTherapyTypes(types) {
    const select = $("therapy-type");
    for (const t of types) {
      const option = el("option", null, `${t.type} (${t.claim_count} claims)`);
      option.value = t.type;
      option.title = t.description;
      select.append(option);
    }
  }

  // ---- claims and quotes ---------------------------------------------------------------------------

  function chips(label, refs) {
    const wrap = el("p", "chips");
    wrap.append(el("span", "chips-label", label + ":"));
    for (const ref of refs) wrap.append(el("span", "chip", ref.name || ref.title || ref.slug));
    return wrap;
  }

  function claimCard(claim) {
    const item = el("li", "card claim");
    item.dataset.id = claim.id;
    const article = el("article");
    article.append(el("h3", "claim-text", claim.text));

    const evidence = el("dl", "evidence");
    const add = (term, value, className) => {
      if (!value) return;
      evidence.append(el("dt", null, term));
      evidence.append(el("dd", className, value));
    };
    add("Evidence", claim.evidence.kind, "badge kind");
    add("Strength", claim.evidence.strength, "badge strength strength-" + claim.evidence.strength);
    add("Stated as", claim.evidence.stated_as ? `\u201c${claim.evidence.stated_as}\u201d` : null, "stated-as");
    article.append(evidence);

    const figure = el("figure", "excerpt");
    figure.append(el("blockquote", null, claim.source_excerpt));
    const caption = el("figcaption");
    caption.append("Source: ", el("cite", null, claim.source ? claim.source.title : ""));
    if (claim.topic) caption.append(" \u2014 ", topicLink(claim.topic, claim.topic.title));
    figure.append(caption);
    article.append(figure);

    if (claim.conditions.length) article.append(chips("Conditions", claim.conditions));
    if (claim.therapies.length) article.append(chips("Therapies", claim.therapies));
    if (claim.expert) article.append(el("p", "said-by", "Said by " + claim.expert.name));
    item.append(article);
    return item;
  }

  function quoteCard(quote) {
    const item = el("li", "card quote fit-" + quote.specialty_fit);
    item.dataset.id = quote.id;
    const article = el("article");
    const expert = experts.get(quote.expert.slug) || { name: quote.expert.name };
    const heading = el("h3", "expert-name",
      [expert.honorific, expert.name].filter(Boolean).join(" ") +
      (expert.credentials && expert.credentials.length ? ", " + expert.credentials.join(", ") : ""));
    article.append(heading);
    const role = [expert.job_title, expert.affiliation].filter(Boolean).join(", ");
    if (role) article.append(el("p", "role", role));
    if (expert.specialties && expert.specialties.length) {
      article.append(el("p", "specialties", "Specialty: " + expert.specialties.join(", ")));
    }
    article.append(el("p", "fit", FIT[quote.specialty_fit] || quote.specialty_fit));
    const figure = el("figure", "excerpt");
    figure.append(el("blockquote", null, quote.text));
    const quoteCaption = el("figcaption");
    if (quote.topic) quoteCaption.append("In: ", topicLink(quote.topic, quote.topic.title));
    figure.append(quoteCaption);
    article.append(figure);
    item.append(article);
    return item;
  }

  function render(listId, countId, emptyId, items, card, emptyText) {
    const list = $(listId);
    list.replaceChildren(...items.map(card));
    $(countId).textContent = items.length ? `(${items.length})` : "";
    const empty = $(emptyId);
    empty.hidden = items.length > 0;
    empty.textContent = emptyText;
  }

  function syncUrl(sel) {
    const query = filterQuery(sel);
    history.replaceState(null, "", query ? "?" + query : location.pathname);
  }

  async function showSelection() {
    const sel = selection();
    syncUrl(sel);
    const mine = ++generation;
    if (!sel.condition && !sel.therapy_type) {
      render("claims", "claims-count", "claims-empty", [], claimCard,
        "Pick a condition or a therapy type to see the claims made about it.");
      render("quotes", "quotes-count", "quotes-empty", [], quoteCard,
        "The experts quoted on your choice appear here, with whether they speak within their own specialty.");
      setStatus("");
      return;
    }
    setStatus("Loading\u2026");
    try {
      const query = filterQuery(sel);
      const [claims, quotes] = await Promise.all([getAll("v1/claims?" + query), getAll("v1/quotes?" + query)]);
      if (mine !== generation) return; // a newer choice is on its way
      render("claims", "claims-count", "claims-empty", claims, claimCard, "No claims match this choice.");
      render("quotes", "quotes-count", "quotes-empty", quotes, quoteCard, "No expert is quoted on this choice.");
      setStatus(`${claims.length} claims and ${quotes.length} quotes.`);
    } catch (error) {
      if (mine === generation) setStatus("Could not load: " + error.message, true);
    }
  }

  // ---- search --------------------------------------------------------------------------------------

  const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "\"", "&#39;": "'", "&#x27;": "'" };

  /** A snippet with <mark> around matched words, rebuilt as text nodes and <mark> elements. */
  function snippetNode(snippet) {
    const p = el("p", "snippet");
    const decode = (text) => text.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (m) => ENTITIES[m]);
    String(snippet || "").split(/(<mark>[\s\S]*?<\/mark>)/).forEach((part) => {
      if (part.startsWith("<mark>") && part.endsWith("</mark>")) {
        p.append(el("mark", null, decode(part.slice(6, -7))));
      } else if (part) {
        p.append(document.createTextNode(decode(part)));
      }
    });
    return p;
  }

  function hitCard(hit) {
    const item = el("li", "card hit");
    const resource = hit.resource || hit.type || "";
    item.append(el("span", "badge kind", resource));
    const heading = el("h3");
    const plural = PLURAL[resource];
    if (resource === "topic" && hit.key) {
      // A topic opens as its page; its JSON stays one click away.
      heading.append(topicLink({ slug: hit.key }, hit.title || hit.key));
      const json = el("a", "json-link", "JSON");
      json.href = `v1/topics/${encodeURIComponent(hit.key)}`;
      json.type = "application/json";
      heading.append(" ", json);
    } else if (plural && hit.key) {
      const link = el("a", null, hit.title || hit.key);
      link.href = `v1/${plural}/${encodeURIComponent(hit.key)}`;
      link.type = "application/json";
      heading.append(link);
    } else {
      heading.textContent = hit.title || hit.key || "";
    }
    item.append(heading);
    if (hit.snippet) item.append(snippetNode(hit.snippet));
    return item;
  }

  async function search(event) {
    event.preventDefault();
    const q = $("q").value.trim();
    const section = $("search-section");
    const list = $("search-results");
    if (!q) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    setStatus("Searching\u2026");
    const query = filterQuery(selection());
    try {
      const body = await getJson("v1/search?q=" + encodeURIComponent(q) + "&limit=20" + (query ? "&" + query : ""));
      const hits = body.items || [];
      list.replaceChildren(...hits.map(hitCard));
      if (!hits.length) list.replaceChildren(el("li", "hint", `Nothing found for \u201c${q}\u201d.`));
      setStatus(`${hits.length} search results for \u201c${q}\u201d.`);
    } catch (error) {
      const text = error.status === 404 ? "Search is not available on this server."
        : "Search failed: " + error.message;
      list.replaceChildren(el("li", "hint", text));
      setStatus(text, error.status !== 404);
    }
  }

  // ---- start ---------------------------------------------------------------------------------------

  async function start() {
    const params = new URLSearchParams(location.search);
    $("filters").addEventListener("change", showSelection);
    $("filters").addEventListener("reset", () => setTimeout(showSelection, 0));
    $("search").addEventListener("submit", search);
    setStatus("Loading conditions and therapy types\u2026");
    try {
      const [conditions, types, people] = await Promise.all([
        getAll("v1/conditions"), getJson("v1/therapy-types"), getAll("v1/experts"),
      ]);
      fillConditions(conditions);
      fillTherapyTypes(types);
      for (const person of people) experts.set(person.slug, person);
    } catch (error) {
      setStatus("Could not reach the API: " + error.message, true);
      return;
    }
    if (params.get("condition")) $("condition").value = params.get("condition");
    if (params.get("therapy_type")) $("therapy-type").value = params.get("therapy_type");
    document.body.dataset.ready = "true";
    await showSelection();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
