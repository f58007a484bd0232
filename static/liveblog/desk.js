/* The live desk (liveblog/desk.py): publish from the keyboard, edit in place, see who is here, never lose
 * what was typed. Plain JavaScript, no build. Every post on the desk is HTML rendered by the server (the
 * post partial inside templates/admin/liveblog/_desk_post.html); this script only fetches and places it. */
(function () {
  "use strict";
  var root = document.getElementById("desk");
  var configNode = document.getElementById("desk-config");
  if (!root || !configNode) return;
  var config = JSON.parse(configNode.textContent);
  var stream = document.getElementById("desk-posts");
  var banner = root.querySelector(".desk-banner");
  var AUTOSAVE_MS = 3000;
  var presence = {}; // desk id -> {name, editing, seen}
  var socket = null;
  var editing = null; // the post id being edited in place here
  var csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";

  // ---- Small helpers ---------------------------------------------------------------

  function url(template, postId) {
    return template.replace("/0/", "/" + postId + "/");
  }

  function send(method, address, body) {
    return fetch(address, {
      method: method,
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    });
  }

  function showBanner(text) {
    banner.textContent = text;
    banner.hidden = !text;
  }

  function showRefusal(response, fallback) {
    // The server's own words when it has some (someone else is changing the post), else the likely reasons.
    return response.json()
      .then(function (answer) { showBanner(answer.error || fallback); })
      .catch(function () { showBanner(fallback); });
  }

  function parse(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    return holder.firstElementChild;
  }

  function editorFor(form) {
    var area = form.querySelector("textarea");
    return area && window.CKEDITOR ? CKEDITOR.instances[area.id] : null;
  }

  function storageKey(form) {
    return "liveblog-desk:" + config.user + ":" + config.column + ":" + (form.dataset.postId || "new");
  }

  // ---- The composer and the edit forms -------------------------------------------

  function contentOf(form) {
    var editor = editorFor(form);
    var prefix = form.dataset.prefix + "-";
    var select = form.querySelector("select[name='" + prefix + "authors']");
    var authors = [];
    if (select) {
      for (var i = 0; i < select.options.length; i++) {
        var option = select.options[i];
        if (option.selected) authors.push({ id: +option.value, name: option.textContent });
      }
    }
    return {
      headline: form.elements[prefix + "headline"].value,
      body: editor ? editor.getData() : form.elements[prefix + "body"].value,
      authors: authors,
      pinned: form.elements[prefix + "pinned"].checked,
      key_event: form.elements[prefix + "key_event"].checked,
      publish_at: form.elements[prefix + "publish_at"].value,
      base_version: form.elements[prefix + "base_version"].value,
    };
  }

  function fill(form, content, done) {
    // What the desk puts in the form is not typing: it must not be autosaved as if it were.
    form.filling = true;
    var finished = done;
    done = function () {
      setTimeout(function () { form.filling = false; }, 50); // CKEditor's own change event comes after
      if (finished) finished();
    };
    var prefix = form.dataset.prefix + "-";
    form.elements[prefix + "headline"].value = content.headline || "";
    var editor = editorFor(form);
    // CKEditor sets its data asynchronously and may take the focus back: act once it is done.
    if (editor) editor.setData(content.body || "", { callback: done });
    else form.elements[prefix + "body"].value = content.body || "";
    form.elements[prefix + "pinned"].checked = !!content.pinned;
    form.elements[prefix + "key_event"].checked = !!content.key_event;
    form.elements[prefix + "publish_at"].value = content.publish_at || "";
    if (content.authors) setAuthors(form, content.authors);
    if (!editor) done();
  }

  function setAuthors(form, authors) {
    var select = form.querySelector("select[name='" + form.dataset.prefix + "-authors']");
    if (!select) return;
    select.innerHTML = "";
    authors.forEach(function (author) {
      var option = new Option(author.name, author.id, true, true);
      select.appendChild(option);
    });
    if (window.django && django.jQuery) django.jQuery(select).trigger("change");
    labelSearch(form);
  }

  function labelSearch(form) {
    // select2's search box has no label of its own; screen readers must hear what it is for.
    form.querySelectorAll(".select2-search__field").forEach(function (field) {
      field.setAttribute("aria-label", "Find an author to add as a byline");
    });
  }

  function isEmpty(content) {
    return !content.headline.trim() && !content.body.replace(/<[^>]*>|&nbsp;|\s/g, "");
  }

  function clearErrors(form) {
    form.querySelectorAll(".desk-errors").forEach(function (node) {
      node.textContent = "";
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) {
      node.removeAttribute("aria-invalid");
    });
  }

  function showErrors(form, errors) {
    var first = null;
    Object.keys(errors).forEach(function (name) {
      var box = form.querySelector("[data-errors-for='" + name + "']") || form.querySelector("[data-errors-for=__all__]");
      box.textContent = errors[name].join(" ");
      var field = form.elements[name];
      if (field && field.setAttribute) {
        field.setAttribute("aria-invalid", "true");
        first = first || field;
      }
    });
    if (first && first.focus && first.type !== "textarea") first.focus();
  }

  function showConflict(form, theirs) {
    var box = form.querySelector(".desk-conflict");
    box.querySelector(".desk-conflict-headline").textContent = theirs.headline;
    box.querySelector(".desk-conflict-body").innerHTML = theirs.body; // cleaned by the server when saved
    box.querySelector(".desk-conflict-authors").textContent =
      "By " + theirs.authors.map(function (a) { return a.name; }).join(", ");
    box.hidden = false;
    form.elements[form.dataset.prefix + "-base_version"].value = theirs.version;
  }

  function submit(form, action) {
    var editor = editorFor(form);
    if (editor) editor.updateElement();
    var data = new FormData(form);
    data.set("action", action);
    clearErrors(form);
    form.setAttribute("aria-busy", "true");
    return send("POST", form.getAttribute("action"), data)
      .then(function (response) {
        return response.text().then(function (text) {
          var answer = null;
          try { answer = JSON.parse(text); } catch (e) { answer = null; }
          return { status: response.status, answer: answer };
        });
      })
      .then(function (result) {
        form.removeAttribute("aria-busy");
        if (result.status === 200 && result.answer) return sent(form, result.answer);
        if (!result.answer) {
          var why = result.status === 403 ? "you may lack the permission, or your login has expired"
            : "the server answered " + result.status;
          return showErrors(form, { __all__: ["The post was not saved: " + why + ". What you typed is kept."] });
        }
        if (result.answer.conflict) showConflict(form, result.answer.conflict);
        showErrors(form, result.answer.errors || { __all__: ["The post was not saved."] });
      })
      .catch(function (error) {
        if (window.console) console.error(error);
        form.removeAttribute("aria-busy");
        // Nothing typed is lost: the form keeps it, and so does the browser's copy.
        showErrors(form, { __all__: ["The connection is lost: the post was not sent. What you typed is kept; try again."] });
      });
  }

  function sent(form, answer) {
    forget(form);
    placeCard(answer.post, answer.card);
    if (form.dataset.postId) return closeEditor(form);
    var headline = form.elements[form.dataset.prefix + "-headline"];
    headline.focus();
    fill(form, { headline: "", body: "", pinned: false, key_event: false, publish_at: "" }, function () {
      headline.focus();
    });
    form.querySelector(".desk-conflict").hidden = true;
  }

  function wire(form) {
    var editor = editorFor(form);
    var action = null;
    form.addEventListener("click", function (event) {
      var button = event.target.closest("button[name=action]");
      if (button) action = button.value;
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit(form, action || form.dataset.ctrlEnter);
      action = null;
    });
    form.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        submit(form, form.dataset.ctrlEnter);
      }
    });
    form.addEventListener("input", function () { dirty(form); });
    form.addEventListener("change", function () { dirty(form); });
    labelSearch(form);
    if (window.django && django.jQuery) {
      // select2 redraws its search box after every choice.
      django.jQuery(form).on("change select2:select select2:unselect select2:close", "select", function () {
        labelSearch(form);
        dirty(form);
      });
    }
    var discard = form.querySelector(".desk-discard");
    if (discard) {
      discard.addEventListener("click", function () {
        forget(form);
        fill(form, { headline: "", body: "", pinned: false, key_event: false, publish_at: "" }, function () {
          form.elements[form.dataset.prefix + "-headline"].focus();
        });
      });
    }
    var cancel = form.querySelector(".desk-cancel");
    if (cancel) {
      cancel.addEventListener("click", function () {
        forget(form);
        closeEditor(form);
      });
    }
    whenEditorReady(form, function (editor) {
      editor.on("change", function () { dirty(form); });
      // Keys typed in CKEditor's frame never reach the page: Ctrl+Enter (Cmd+Enter on a Mac) is its keystroke.
      editor.on("key", function (event) {
        if (event.data.keyCode === CKEDITOR.CTRL + 13) {
          event.cancel();
          submit(form, form.dataset.ctrlEnter);
        }
      });
    });
    return editor;
  }

  function whenEditorReady(form, callback) {
    var area = form.querySelector("textarea");
    (function wait() {
      var editor = window.CKEDITOR && area && CKEDITOR.instances[area.id];
      if (editor && editor.status === "ready") return callback(editor);
      if (editor) return editor.once("instanceReady", function () { callback(editor); });
      setTimeout(wait, 50);
    })();
  }

  // ---- Autosave: the browser at once, the server every few seconds ------------------

  var pending = new Map(); // form -> timer

  function dirty(form) {
    if (form.filling) return;
    var content = contentOf(form);
    content.saved_at = new Date().toISOString();
    try {
      localStorage.setItem(storageKey(form), JSON.stringify(content));
    } catch (e) { /* private mode or full: the server copy still comes */ }
    if (!pending.has(form)) {
      pending.set(form, setTimeout(function () { saveOnServer(form); }, AUTOSAVE_MS));
    }
  }

  function saveOnServer(form) {
    pending.delete(form);
    if (!form.isConnected) return;
    var content = contentOf(form);
    var data = new FormData();
    if (form.dataset.postId) data.set("post", form.dataset.postId);
    ["headline", "body", "publish_at", "base_version"].forEach(function (key) { data.set(key, content[key] || ""); });
    data.set("pinned", content.pinned);
    data.set("key_event", content.key_event);
    content.authors.forEach(function (author) { data.append("authors", author.id); });
    send("POST", config.autosave, data)
      .then(function (response) {
        if (!response.ok) throw new Error("not kept: " + response.status); // busy, or logged out
        return response.json();
      })
      .then(function (answer) {
        markSynced(form, content);
        var note = form.querySelector(".desk-autosaved");
        note.textContent = "Kept on the server at " + new Date(answer.saved_at).toLocaleTimeString();
        if (answer.conflict) {
          showErrors(form, { __all__: ["Someone saved this post after you began editing: when you save, you will see their version beside yours."] });
        }
      })
      .catch(function () {
        form.querySelector(".desk-autosaved").textContent = "Kept in this browser (the server could not keep it just now)";
      });
  }

  function markSynced(form, content) {
    // The browser's copy is on the server now: if the server later has none, it was published or discarded
    // (perhaps on another device) and the copy must not come back.
    try {
      var local = JSON.parse(localStorage.getItem(storageKey(form)) || "null");
      if (local && local.headline === content.headline && local.body === content.body) {
        local.synced = true;
        localStorage.setItem(storageKey(form), JSON.stringify(local));
      }
    } catch (e) { /* nothing kept */ }
  }

  function forget(form) {
    clearTimeout(pending.get(form));
    pending.delete(form);
    try { localStorage.removeItem(storageKey(form)); } catch (e) { /* nothing kept */ }
    var data = new FormData();
    if (form.dataset.postId) data.set("post", form.dataset.postId);
    data.set("discard", "1");
    send("POST", config.autosave, data).catch(function () {});
    var note = form.querySelector(".desk-autosaved");
    if (note) note.textContent = "";
  }

  function restore(form, server) {
    var local = null;
    try { local = JSON.parse(localStorage.getItem(storageKey(form)) || "null"); } catch (e) { local = null; }
    if (local && local.synced && !server) {
      // Sent from here or elsewhere since: gone from the server, so gone from this browser too.
      try { localStorage.removeItem(storageKey(form)); } catch (e) { /* nothing kept */ }
      local = null;
    }
    var newest = [local, server].filter(Boolean).sort(function (a, b) {
      return new Date(b.saved_at) - new Date(a.saved_at);
    })[0];
    if (!newest || isEmpty({ headline: newest.headline || "", body: newest.body || "" })) return;
    whenEditorReady(form, function () {
      fill(form, newest);
      form.querySelector(".desk-autosaved").textContent =
        "Restored what you had typed (" + new Date(newest.saved_at).toLocaleTimeString() + ")";
    });
  }

  // ---- Editing in place ------------------------------------------------------------

  function openEditor(postId) {
    var card = document.getElementById("desk-post-" + postId);
    if (!card || card.querySelector(".desk-form")) return;
    if (editing) {
      var open = document.querySelector(".desk-post .desk-form");
      if (open) closeEditor(open);
    }
    send("GET", url(config.post, postId))
      .then(function (response) {
        if (!response.ok) throw new Error("refused");
        return response.json();
      })
      .then(function (answer) {
        var form = parse(answer.html);
        card = document.getElementById("desk-post-" + postId); // it may have been refreshed meanwhile
        if (!card) throw new Error("gone");
        card.classList.add("desk-post-editing");
        card.appendChild(form);
        startEditor(form);
        wire(form);
        restore(form, answer.saved);
        editing = postId;
        say({ editing: postId });
        form.elements[form.dataset.prefix + "-headline"].focus();
      })
      .catch(function () {
        showBanner("This post cannot be edited here (it may be gone, or you may lack the permission).");
      });
  }

  function startEditor(form) {
    var area = form.querySelector("textarea[data-type=ckeditortype]");
    if (area && window.CKEDITOR) {
      area.setAttribute("data-processed", "1");
      CKEDITOR.replace(area.id, JSON.parse(area.getAttribute("data-config")));
    }
    var select = form.querySelector("select.admin-autocomplete");
    if (select && window.django && django.jQuery && django.jQuery.fn.djangoAdminSelect2) {
      django.jQuery(select).djangoAdminSelect2();
    }
  }

  function closeEditor(form) {
    var card = form.closest(".desk-post");
    var editor = editorFor(form);
    if (editor) editor.destroy(true);
    form.remove();
    if (card) {
      card.classList.remove("desk-post-editing");
      var button = card.querySelector(".desk-edit");
      if (button) button.focus();
    }
    editing = null;
    say({ editing: null });
  }

  // ---- The stream ------------------------------------------------------------------

  function placeCard(postId, html) {
    var fresh = parse(html);
    var existing = document.getElementById("desk-post-" + postId);
    if (existing) {
      var form = existing.querySelector(".desk-form");
      if (form) {
        // Editing here: keep the form (and what is typed in it), refresh what is around it.
        existing.querySelector("article").replaceWith(fresh.querySelector("article"));
        existing.querySelector(".desk-post-state").replaceWith(fresh.querySelector(".desk-post-state"));
        existing.dataset.version = fresh.dataset.version;
        markEditing();
        return;
      }
      if (existing.dataset.order === fresh.dataset.order) {
        existing.replaceWith(fresh);
        return markEditing();
      }
      existing.remove();
    }
    var empty = stream.querySelector(".desk-empty");
    if (empty) empty.remove();
    var order = parseFloat(fresh.dataset.order);
    var after = null;
    var cards = stream.querySelectorAll(".desk-post");
    for (var i = 0; i < cards.length; i++) {
      if (parseFloat(cards[i].dataset.order) < order) { after = cards[i]; break; }
    }
    stream.insertBefore(fresh, after);
    markEditing();
  }

  var refreshing = {}; // post id -> timer: several saves in one moment cost one fetch

  function refresh(postId) {
    if (!postId || refreshing[postId]) return;
    refreshing[postId] = setTimeout(function () {
      delete refreshing[postId];
      send("GET", url(config.card, postId))
        .then(function (response) {
          if (response.status === 404) return removeCard(postId);
          if (response.ok) return response.text().then(function (html) { placeCard(postId, html); });
        })
        .catch(function () {});
    }, 30);
  }

  function removeCard(postId) {
    var card = document.getElementById("desk-post-" + postId);
    if (!card) return;
    if (card.querySelector(".desk-form")) {
      var headline = card.querySelector(".post-headline");
      showBanner("“" + (headline ? headline.textContent.trim() : "This post") +
        "” was deleted by someone else while you edited it. Your text is still in the form.");
      return;
    }
    card.remove();
  }

  stream.addEventListener("click", function (event) {
    var edit = event.target.closest(".desk-edit");
    if (edit) return openEditor(+edit.dataset.postId);
    var del = event.target.closest(".desk-delete");
    if (del) {
      event.preventDefault();
      if (!window.confirm("Delete “" + del.dataset.headline + "”? Readers will see it disappear. This cannot be undone.")) return;
      var card = del.closest(".desk-post");
      var notDeleted = "The post was not deleted: you may lack the permission, or the connection is lost.";
      send("POST", del.dataset.action, new FormData())
        .then(function (response) {
          if (!response.ok) return showRefusal(response, notDeleted);
          card.remove();
        })
        .catch(function () { showBanner(notDeleted); });
    }
  });

  stream.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList.contains("desk-form")) return; // handled by wire()
    event.preventDefault();
    var notDone = "That did not go through: you may lack the permission, or the connection is lost.";
    send("POST", form.getAttribute("action"), new FormData(form))
      .then(function (response) {
        if (!response.ok) return showRefusal(response, notDone);
        var card = form.closest(".desk-post");
        if (form.classList.contains("editor-only")) showBanner("The column's press image is now this card's image.");
        else if (card) refresh(+card.dataset.postId);
      })
      .catch(function () { showBanner(notDone); });
  });

  // ---- Presence --------------------------------------------------------------------

  function markEditing() {
    stream.querySelectorAll(".desk-editing").forEach(function (node) { node.textContent = ""; });
    var names = [];
    Object.keys(presence).forEach(function (id) {
      var who = presence[id];
      if (id === myId) return;
      names.push(who.name + (who.editing ? " (editing)" : ""));
      if (who.editing) {
        var label = document.querySelector("#desk-post-" + who.editing + " .desk-editing");
        if (label) label.textContent = (label.textContent ? label.textContent + "; " : "") + who.name + " is editing";
      }
    });
    root.querySelector(".desk-presence-list").textContent = ["you"].concat(names).join(", ");
  }

  var myId = null; // this tab's own presence, named by the server when the socket opens

  function onPresence(message) {
    if (message.state === "gone") delete presence[message.id];
    else presence[message.id] = { name: message.name, editing: message.editing, seen: Date.now() };
    markEditing();
  }

  setInterval(function () {
    var now = Date.now();
    var changed = false;
    Object.keys(presence).forEach(function (id) {
      // Desks announce themselves every 2 s; one that crashed (or whose network died) says no goodbye.
      if (now - presence[id].seen > config.presence_expires * 1000) { delete presence[id]; changed = true; }
    });
    if (changed) markEditing();
    say({ editing: editing }); // the heartbeat of this desk's presence (every 2 s)
  }, config.presence_seconds * 1000);

  // Leaving: close the socket ourselves, so the others see us go at once.
  window.addEventListener("pagehide", function () {
    if (socket) {
      socket.onclose = null;
      socket.close(1000);
    }
  });

  // ---- The socket ------------------------------------------------------------------

  var delay = 500;

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + config.socket);
    socket.onopen = function () {
      delay = 500;
      root.dataset.state = "open";
      root.querySelector(".desk-connection-text").textContent = "Live";
      showBanner("");
      if (editing) say({ editing: editing });
    };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.seq) {
        config.socket = config.socket.replace(/after=\d+/, "after=" + message.seq);
        return refresh(message.post_id);
      }
      if (message.desk === "welcome") {
        myId = message.id;
        return markEditing();
      }
      if (message.desk === "presence") return onPresence(message);
      if (message.desk === "readers") return readers(message);
      if (message.desk === "post") return refresh(message.post_id);
      if (message.desk === "saved" || message.desk === "conflict") return savedElsewhere(message);
    };
    socket.onclose = function () {
      root.dataset.state = "closed";
      root.querySelector(".desk-connection-text").textContent = "Reconnecting…";
      if (delay > 2000) showBanner("The desk has lost its connection: what you type is kept in this browser. Reconnecting…");
      presence = {};
      markEditing();
      setTimeout(connect, delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 15000);
    };
  }

  function say(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function savedElsewhere(message) {
    if (message.desk === "saved") refresh(message.post_id);
    if (message.by_user === config.user || editing !== message.post_id) return;
    var form = document.querySelector("#desk-post-" + message.post_id + " .desk-form");
    if (!form) return;
    var base = +form.elements[form.dataset.prefix + "-base_version"].value;
    if (message.desk === "saved" && message.version > base) {
      showErrors(form, { __all__: [message.by + " saved this post while you were editing it: when you save, you will see their version beside yours to merge."] });
    }
  }

  function readers(message) {
    root.querySelector(".desk-readers-count").textContent = String(message.readers);
    root.querySelector(".desk-handout").textContent =
      message.handout_ms === null || message.handout_ms === undefined
        ? ""
        : "(the last update reached them in " + message.handout_ms.toFixed(1) + " ms)";
  }

  // ---- Start -----------------------------------------------------------------------

  var composer = root.querySelector(".desk-composer .desk-form");
  if (composer) {
    wire(composer);
    // The admin's autocomplete draws the composer's select2 once the document is ready, after this script.
    if (window.django && django.jQuery) django.jQuery(function () { labelSearch(composer); });
    window.addEventListener("load", function () { labelSearch(composer); });
    restore(composer, config.saved);
    composer.elements[composer.dataset.prefix + "-headline"].focus();
  }
  connect();
})();
