// The fake Google Photos web app: a virtualised grid and an item viewer, fed by the
// server's internal JSON calls. One code path serves the grids, parameterised by the
// list (INIT.list: library, recent, archive or album:<albumId>) and its path
// (INIT.gridPath); an album's grid scrolls in a c-wiz, not in [role="main"]
// (INIT.container). The albums list (INIT.view 'albums') is a second virtualised
// layout of cards.
// No user-facing sentence lives in this file: sentences arrive from the server when
// they are shown.
'use strict';
(() => {
  const INIT = JSON.parse(document.getElementById('wiz_global_data').textContent);
  const L = INIT.labels;
  const PREFIX = INIT.prefix;
  const LIST = INIT.list || 'library';
  const GRID_PATH = INIT.gridPath || '';               // '', 'search/_tra_' or 'archive'
  const ITEM_PATH = GRID_PATH ? `${GRID_PATH}/photo/` : 'photo/';
  const ITEM_QUERY = INIT.itemQuery || '';             // '?key=<KEY>' in a shared album
  const DEFAULT_TITLE = 'Photos - Google Photos';
  const GRID_TITLE = INIT.gridTitle || DEFAULT_TITLE;   // '<Album title> - Google Photos'
  const CONTAINER = INIT.container || 'main';          // 'main' or 'cwiz' (an album)
  // What a page change (the server's PAGE_CHANGES) may alter: the download key, and the
  // shape of grid items ('anchor': a[href="./photo/<id>"]; 'div': div[role=link][data-id]).
  const DOWNLOAD_KEY = INIT.downloadKey || 'D';
  const ITEM_LINKS = INIT.itemLinks || 'anchor';
  const app = document.getElementById('app');

  const CELL = 188;       // grid pitch (thumbnail + gap)
  const HEADER = 56;      // day header height
  const PAD = 16;
  const RPC = {
    outline: 'lcxiM', page: 'EzkLib', item: 'VrseUb', download: 'pLFTfd', dialog: 'Wd3Tfc', albums: 'Z5xsfc',
  };
  const CARD_W = 208;     // albums list pitch
  const CARD_H = 256;

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'text') node.textContent = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children || []) if (child) node.appendChild(child);
    return node;
  }

  // ---- internal JSON calls (batchexecute style) ----------------------------------
  let reqid = 1000 + Math.floor(Math.random() * 8000);

  async function rpc(id, args, keepalive) {
    let backoff = 400;
    for (;;) {
      reqid += 100000;
      const query = new URLSearchParams({
        rpcids: id, 'source-path': location.pathname, hl: INIT.lang, _reqid: String(reqid), rt: 'c',
      });
      const body = new URLSearchParams({
        'f.req': JSON.stringify([[[id, JSON.stringify(args), null, 'generic']]]),
        at: INIT.at,
      });
      let response = null;
      try {
        response = await fetch(`${INIT.rpc}?${query}`, {
          method: 'POST', body, credentials: 'same-origin', keepalive: Boolean(keepalive),
          headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8' },
        });
      } catch (error) {
        response = null;
      }
      if (response && response.status === 401) {
        // Signed out meanwhile: reload the app, which sends a signed-out visitor away.
        location.assign(PREFIX);
        return new Promise(() => {});
      }
      if (response && response.ok) {
        const text = await response.text();
        const envelope = JSON.parse(text.slice(text.indexOf('\n\n') + 2));
        return JSON.parse(envelope[0][2]);
      }
      if (response && response.status >= 400 && response.status < 500) {
        throw new Error(`call ${id} refused: ${response.status}`);
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 5000);
    }
  }

  // ---- the library as the app knows it -------------------------------------------
  const lib = {
    total: 0,
    pages: [],       // [{t, n, start, state: 0 none | 1 loading | 2 loaded, promise}]
    sections: [],    // [{key, aria, text, start, count, top, rows}]
    items: [],       // index -> {id, aria, kind, landscape, hue}
    indexOf: new Map(),
    outline: null,
  };

  function loadOutline() {
    if (!lib.outline) {
      lib.outline = rpc(RPC.outline, [LIST]).then((outline) => {
        lib.total = outline.total;
        let start = 0;
        for (const page of outline.pages) {
          lib.pages.push({ t: page.t, n: page.n, start, state: 0, promise: null });
          for (const [key, aria, text, count] of page.d) {
            const last = lib.sections[lib.sections.length - 1];
            if (last && last.key === key) last.count += count;
            else lib.sections.push({ key, aria, text, start, count, top: 0, rows: 0 });
            start += count;
          }
        }
        lib.total = start;
        return lib;
      });
    }
    return lib.outline;
  }

  function pageOf(index) {
    let low = 0;
    let high = lib.pages.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (lib.pages[mid].start <= index) low = mid; else high = mid - 1;
    }
    return low;
  }

  function loadPage(number) {
    const page = lib.pages[number];
    if (!page) return Promise.resolve();
    if (page.promise) return page.promise;
    page.state = 1;
    page.promise = rpc(RPC.page, [page.t, LIST]).then((answer) => {
      answer.items.forEach(([id, aria, kind, landscape, hue], offset) => {
        if (offset >= page.n) return;
        const index = page.start + offset;
        lib.items[index] = { id, aria, kind, landscape, hue };
        lib.indexOf.set(id, index);
      });
      page.state = 2;
      scheduleRender();
    });
    return page.promise;
  }

  async function itemAt(index) {
    await loadOutline();
    if (index < 0 || index >= lib.total) return null;
    if (!lib.items[index]) await loadPage(pageOf(index));
    return lib.items[index] || null;
  }

  // ---- grid -----------------------------------------------------------------------
  const grid = {
    page: null, main: null, canvas: null, cols: 0, rendered: new Map(), anchorIndex: new WeakMap(),
    pending: null, timer: 0,
  };

  function buildGrid() {
    const more = el('div', {
      role: 'button', tabindex: '0', class: 'icon-button', 'aria-label': L.more_options,
      'aria-haspopup': 'menu', 'aria-expanded': 'false',
    });
    more.addEventListener('click', () => openMenu(more, [{ label: L.select_photos, text: L.select_photos }]));
    const toolbar = el('div', { class: 'grid-toolbar' }, [
      el('div', { role: 'button', tabindex: '0', class: 'text-button', 'aria-label': L.select_photos,
        text: L.select_photos }),
      more,
    ]);
    grid.canvas = el('div', { class: 'canvas' });
    if (CONTAINER === 'cwiz') {
      // An album (2025): its scroller is the c-wiz c-wiz c-wiz holding the photo links.
      toolbar.insertBefore(el('h1', { class: 'album-heading', text: INIT.albumTitle || '' }), toolbar.firstChild);
      grid.main = el('c-wiz', { class: 'scroller album-scroller', tabindex: '-1', jsrenderer: 'AlbumItems' }, [grid.canvas]);
      grid.page = el('c-wiz', { class: 'grid-page album-page', jsrenderer: 'AlbumPage' }, [toolbar, grid.main]);
    } else {
      grid.main = el('div', { role: 'main', class: 'scroller', tabindex: '-1' }, [grid.canvas]);
      grid.page = el('c-wiz', { class: 'grid-page', jsrenderer: 'LibraryGrid' }, [toolbar, grid.main]);
    }
    app.appendChild(grid.page);
    grid.main.addEventListener('scroll', scheduleRender, { passive: true });
    window.addEventListener('resize', () => { relayout(true); scheduleRender(); });
    grid.canvas.addEventListener('click', (event) => {
      const anchor = event.target.closest('.item');
      if (!anchor || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      const index = grid.anchorIndex.get(anchor);
      openViewer(lib.items[index].id, index, true);
    });
    relayout(false);
  }

  function relayout(clear) {
    const width = Math.max(CELL, grid.main.clientWidth - 2 * PAD);
    const cols = Math.max(1, Math.floor(width / CELL));
    if (clear && cols === grid.cols) return;
    grid.cols = cols;
    let y = PAD;
    for (const section of lib.sections) {
      section.top = y;
      section.rows = Math.ceil(section.count / cols);
      y += HEADER + section.rows * CELL;
    }
    grid.canvas.style.height = `${y + PAD}px`;
    if (clear) {
      for (const node of grid.rendered.values()) node.remove();
      grid.rendered.clear();
    }
  }

  function sectionIndexAtY(y) {
    let low = 0;
    let high = lib.sections.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (lib.sections[mid].top <= y) low = mid; else high = mid - 1;
    }
    return low;
  }

  function sectionIndexOfItem(index) {
    let low = 0;
    let high = lib.sections.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (lib.sections[mid].start <= index) low = mid; else high = mid - 1;
    }
    return low;
  }

  function itemBox(index) {
    const section = lib.sections[sectionIndexOfItem(index)];
    const offset = index - section.start;
    return {
      top: section.top + HEADER + Math.floor(offset / grid.cols) * CELL,
      left: PAD + (offset % grid.cols) * CELL,
    };
  }

  function scheduleRender() {
    if (!grid.main || grid.timer) return;
    grid.timer = setTimeout(() => { grid.timer = 0; render(); }, 0);
  }

  // A grid item's element: an anchor to its viewer, or (changed page) a div link.
  function itemLink(id, attrs, children) {
    const shape = ITEM_LINKS === 'div'
      ? { role: 'link', tabindex: attrs.tabindex || '0', 'data-id': id }
      : { href: `./${ITEM_PATH}${id}${ITEM_QUERY}` };
    return el(ITEM_LINKS === 'div' ? 'div' : 'a', { ...shape, ...attrs }, children);
  }

  function makeAnchor(index, item) {
    const box = itemBox(index);
    const anchor = itemLink(item.id, {
      class: 'item', 'aria-label': item.aria, style: `top:${box.top}px;left:${box.left}px`,
    }, [el('div', {
      class: `thumb${item.landscape ? '' : ' portrait'}`,
      style: `background:linear-gradient(135deg,hsl(${item.hue} 55% 60%),hsl(${(item.hue + 40) % 360} 45% 35%))`,
    }, [item.kind !== 'photo' ? el('span', { class: `badge ${item.kind}` }) : null])]);
    grid.anchorIndex.set(anchor, index);
    return anchor;
  }

  function makePlaceholder(index) {
    const box = itemBox(index);
    return el('div', { class: 'placeholder', style: `top:${box.top}px;left:${box.left}px` });
  }

  function makeHeader(section) {
    return el('div', { class: 'day', style: `top:${section.top}px` }, [
      el('div', { role: 'checkbox', 'aria-checked': 'false', tabindex: '-1', class: 'day-check',
        'aria-label': section.aria }),
      el('div', { class: 'day-text', text: section.text }),
    ]);
  }

  function render() {
    if (!grid.main || lib.sections.length === 0 || grid.page.style.visibility === 'hidden') return;
    const top = grid.main.scrollTop;
    const height = grid.main.clientHeight || 600;
    const low = top - height;
    const high = top + 2 * height;
    const wanted = [];
    const missing = new Set();
    for (let s = sectionIndexAtY(low); s < lib.sections.length; s++) {
      const section = lib.sections[s];
      if (section.top > high) break;
      if (section.top + HEADER >= low) wanted.push([`h${section.start}`, () => makeHeader(section)]);
      const firstRow = Math.max(0, Math.floor((low - section.top - HEADER) / CELL));
      const lastRow = Math.min(section.rows - 1, Math.floor((high - section.top - HEADER) / CELL));
      for (let row = firstRow; row <= lastRow; row++) {
        for (let col = 0; col < grid.cols; col++) {
          const offset = row * grid.cols + col;
          if (offset >= section.count) break;
          const index = section.start + offset;
          const item = lib.items[index];
          if (item) wanted.push([`a${index}`, () => makeAnchor(index, item)]);
          else {
            wanted.push([`p${index}`, () => makePlaceholder(index)]);
            missing.add(pageOf(index));
          }
        }
      }
    }
    const keep = new Set(wanted.map(([key]) => key));
    for (const [key, node] of grid.rendered) {
      if (!keep.has(key)) { node.remove(); grid.rendered.delete(key); }
    }
    let cursor = grid.canvas.firstChild;
    for (const [key, make] of wanted) {
      let node = grid.rendered.get(key);
      if (!node) {
        node = make();
        grid.rendered.set(key, node);
        grid.canvas.insertBefore(node, cursor);
      } else if (node === cursor) {
        cursor = cursor.nextSibling;
      } else {
        grid.canvas.insertBefore(node, cursor);
      }
    }
    for (const number of missing) loadPage(number);
  }

  function focusedIndex() {
    const active = document.activeElement;
    if (active && active.classList && active.classList.contains('item')) {
      const index = grid.anchorIndex.get(active);
      if (index !== undefined) return index;
    }
    return -1;
  }

  function firstVisibleIndex() {
    const top = grid.main.scrollTop;
    let best = -1;
    for (const [key, node] of grid.rendered) {
      if (key[0] !== 'a') continue;
      const index = Number(key.slice(1));
      if (itemBox(index).top + CELL / 2 >= top && (best < 0 || index < best)) best = index;
    }
    return best;
  }

  async function focusItem(index) {
    if (index < 0 || index >= lib.total) return;
    const item = await itemAt(index);
    if (!item || state.view !== 'grid') return;
    const box = itemBox(index);
    const top = grid.main.scrollTop;
    const height = grid.main.clientHeight;
    if (box.top < top + 4) grid.main.scrollTop = Math.max(0, box.top - HEADER - 4);
    else if (box.top + CELL > top + height) grid.main.scrollTop = box.top + CELL - height + 4;
    render();
    const anchor = grid.rendered.get(`a${index}`);
    if (anchor) anchor.focus({ preventScroll: true });
  }

  function verticalNeighbour(index, direction) {
    const s = sectionIndexOfItem(index);
    const section = lib.sections[s];
    const offset = index - section.start;
    const row = Math.floor(offset / grid.cols);
    const col = offset % grid.cols;
    if (direction > 0) {
      if (row + 1 < section.rows) return Math.min(section.start + section.count - 1, index + grid.cols);
      const next = lib.sections[s + 1];
      return next ? next.start + Math.min(col, next.count - 1) : -1;
    }
    if (row > 0) return index - grid.cols;
    const previous = lib.sections[s - 1];
    if (!previous) return -1;
    const lastRow = previous.rows - 1;
    return previous.start + Math.min(previous.count - 1, lastRow * grid.cols + col);
  }

  function typing(event) {
    return Boolean(event.target && (event.target.tagName === 'INPUT' || event.target.tagName === 'TEXTAREA'));
  }

  function gridKey(event) {
    if (typing(event)) return;
    const main = grid.main;
    if (event.key === 'Enter' && ITEM_LINKS === 'div') {
      // An anchor opens on Enter by itself (a click); a div link is opened here.
      const index = focusedIndex();
      if (index >= 0 && lib.items[index]) { event.preventDefault(); openViewer(lib.items[index].id, index, true); }
      return;
    }
    const base = grid.pending !== null ? grid.pending : focusedIndex();
    let target = null;
    switch (event.key) {
      case 'ArrowRight': target = base < 0 ? firstVisibleIndex() : base + 1; break;
      case 'ArrowLeft': target = base < 0 ? firstVisibleIndex() : base - 1; break;
      case 'ArrowDown':
        if (base < 0) { main.scrollTop += 40; event.preventDefault(); return; }
        target = verticalNeighbour(base, 1); break;
      case 'ArrowUp':
        if (base < 0) { main.scrollTop -= 40; event.preventDefault(); return; }
        target = verticalNeighbour(base, -1); break;
      case 'PageDown': main.scrollTop += Math.floor(main.clientHeight * 0.85); break;
      case 'PageUp': main.scrollTop -= Math.floor(main.clientHeight * 0.85); break;
      case 'End': main.scrollTop = main.scrollHeight; break;
      case 'Home': main.scrollTop = 0; break;
      default: return;
    }
    event.preventDefault();
    if (target === null || target < 0 || target >= lib.total) return;
    grid.pending = target;
    focusItem(target).finally(() => { if (grid.pending === target) grid.pending = null; });
  }

  async function showGrid(focusIndex) {
    state.view = 'grid';
    closeMenu();
    if (viewer.root) viewer.root.hidden = true;
    for (const wiz of viewer.wizzes) wiz.style.visibility = 'hidden';
    document.title = GRID_TITLE;
    await loadOutline();
    if (state.view !== 'grid') return;
    if (!grid.page) buildGrid();
    grid.page.style.visibility = 'visible';
    relayout(true);  // the window may have changed size while the viewer was open
    render();
    if (focusIndex !== null && focusIndex >= 0) focusItem(focusIndex);
  }

  // ---- viewer ---------------------------------------------------------------------
  const viewer = { root: null, wizzes: [], current: null, infoOpen: false, token: 0, cache: new Map() };

  function loadItem(id) {
    if (!viewer.cache.has(id)) {
      const promise = rpc(RPC.item, [id, location.href, LIST]);
      viewer.cache.set(id, promise);
      promise.catch(() => viewer.cache.delete(id));
    }
    return viewer.cache.get(id);
  }

  function makeWiz(id) {
    const back = el('div', { role: 'button', tabindex: '0', class: 'icon-button back', 'aria-label': L.back });
    const info = el('div', {
      role: 'button', tabindex: '0', class: 'icon-button info',
      'aria-label': viewer.infoOpen ? L.close_info : L.open_info,
    });
    const more = el('div', {
      role: 'button', tabindex: '0', class: 'icon-button more', 'aria-label': L.more_options,
      'aria-haspopup': 'menu', 'aria-expanded': 'false',
    });
    const previous = el('div', { role: 'button', tabindex: '0', class: 'nav previous', 'aria-label': L.previous });
    const next = el('div', { role: 'button', tabindex: '0', class: 'nav next', 'aria-label': L.next });
    const media = el('div', { class: 'media' });
    const aside = el('aside', { class: 'info-panel', hidden: !viewer.infoOpen });
    const panel = el('div', { class: 'panel', 'data-p': `%.@.[null,"${id}",null,[1]]` }, [
      el('div', { class: 'viewer-bar' }, [back, el('span', { class: 'spacer' }), info, more]),
      el('div', { class: 'stage' }, [media]),
      previous, next, aside,
    ]);
    const wiz = el('c-wiz', { 'data-media-key': id, class: 'photo-wiz', jsrenderer: 'PhotoViewer' }, [panel]);
    back.addEventListener('click', () => closeViewer());
    info.addEventListener('click', () => toggleInfo());
    more.addEventListener('click', () => openMenu(more, viewerMenu(id)));
    previous.addEventListener('click', () => step(-1));
    next.addEventListener('click', () => step(1));
    for (const button of [back, info, more, previous, next]) {
      button.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); event.stopPropagation(); button.click(); }
      });
    }
    return wiz;
  }

  function part(wiz, selector) { return wiz.querySelector(selector); }

  function openViewer(id, index, push) {
    if (push) history.pushState({ photo: id }, '', `${PREFIX}${ITEM_PATH}${id}${ITEM_QUERY}`);
    showViewer(id, index);
  }

  function showViewer(id, index) {
    if (state.view === 'grid') document.title = DEFAULT_TITLE;  // until the item's data is in
    state.view = 'photo';
    closeMenu();
    if (!viewer.root) {
      viewer.root = el('div', { class: 'viewer-layer' });
      app.appendChild(viewer.root);
    }
    viewer.root.hidden = false;
    if (grid.page) grid.page.style.visibility = 'hidden';
    for (const wiz of viewer.wizzes) { wiz.style.visibility = 'hidden'; wiz.setAttribute('aria-hidden', 'true'); }
    let wiz = viewer.wizzes.find((candidate) => candidate.getAttribute('data-media-key') === id);
    if (wiz) viewer.wizzes.splice(viewer.wizzes.indexOf(wiz), 1);
    else wiz = makeWiz(id);
    viewer.wizzes.push(wiz);  // most recently shown last; older ones stay hidden in the page
    while (viewer.wizzes.length > 4) viewer.wizzes.shift().remove();
    viewer.root.appendChild(wiz);  // the shown item's element is always the last one
    wiz.style.visibility = 'visible';
    wiz.removeAttribute('aria-hidden');
    const current = { id, index, wiz, info: null };
    viewer.current = current;
    updateNav(current);
    const token = ++viewer.token;
    loadItem(id).then((info) => {
      if (info.notFound) { if (viewer.token === token) showNotFound(info.notFound); return; }
      current.info = info;
      if (current.index < 0) current.index = info.index;
      fillWiz(wiz, info);
      if (viewer.current === current) { updateNav(current); document.title = `${info.filename} - Google Photos`; }
    }).catch(() => {});
  }

  function updateNav(current) {
    const atStart = current.index <= 0;
    const atEnd = current.index < 0 || current.index >= lib.total - 1;
    part(current.wiz, '.nav.previous').style.visibility = atStart ? 'hidden' : 'visible';
    part(current.wiz, '.nav.next').style.visibility = atEnd && lib.outline ? 'hidden' : 'visible';
  }

  function fillWiz(wiz, info) {
    if (wiz.dataset.filled) return;
    wiz.dataset.filled = '1';
    const media = part(wiz, '.media');
    media.classList.add(info.landscape ? 'landscape' : 'portrait');
    media.style.background = `linear-gradient(135deg,hsl(${info.hue} 55% 60%),hsl(${(info.hue + 40) % 360} 45% 35%))`;
    if (info.kind !== 'photo') media.appendChild(el('span', { class: `badge big ${info.kind}` }));
    if (info.processing) {
      // Google shows this a moment after the page, not with it.
      setTimeout(() => {
        media.appendChild(el('div', { class: 'processing', role: 'status' }, [
          el('div', { class: 'spinner' }), el('div', { text: info.processing }),
        ]));
      }, 300 + Math.floor(Math.random() * 400));
    }
    if (viewer.infoOpen) fillInfo(wiz, info);
  }

  function fillInfo(wiz, info) {
    const aside = part(wiz, '.info-panel');
    if (!info || aside.childElementCount) return;
    const fill = (template, value) => template.replace('{value}', value);
    const title = el('div', { class: 'info-title', role: 'heading', 'aria-level': '2', text: 'Info' });
    aside.appendChild(title);
    aside.appendChild(el('div', { class: 'info-row' }, [
      el('div', { class: 'info-date', 'aria-label': fill(L.date_taken, info.date), text: info.date }),
      el('div', { class: 'info-time' }, [
        el('span', { 'aria-label': fill(L.time_taken, info.time), text: info.time }),
        document.createTextNode(' '),
        el('span', { 'aria-label': info.zone, text: info.zone }),
      ]),
    ]));
    aside.appendChild(el('div', { class: 'info-row' }, [
      el('div', { class: 'info-file', 'aria-label': fill(L.filename, info.filename), text: info.filename }),
    ]));
    aside.appendChild(el('div', { class: 'info-row' }, [el('div', { class: 'info-camera', text: info.camera })]));
    // The caption, size, albums and people come with the same item data as the date.
    if (info.details) fillDetails(aside, title, info.details);
  }

  // Each part also exists in a hidden duplicate with other values, before the shown one.
  function fillDetails(aside, title, details) {
    if (aside.querySelector('textarea')) return;
    const fill = (template, value) => template.replace('{value}', value);
    const stale = el('textarea', {
      class: 'info-description', 'aria-label': L.description, tabindex: '-1', style: 'display:none',
    });
    stale.value = details.staleCaption;
    const caption = el('textarea', {
      class: 'info-description', 'aria-label': L.description, placeholder: L.add_description, rows: '3',
    });
    caption.value = details.caption;  // the value only: the element has no text content
    title.after(stale, caption);
    aside.appendChild(el('div', { class: 'info-row' }, [
      el('div', { class: 'info-size', 'aria-label': fill(L.file_size, details.size), text: details.size }),
    ]));
    const albumList = (albums, hidden) => el('div', {
      role: 'list', 'aria-label': L.albums, class: 'info-albums', style: hidden ? 'display:none' : null,
    }, albums.map((album) => el('a', { role: 'listitem', href: album.href, class: 'info-album' }, [
      el('div', { class: 'album-title', text: album.title }),
      el('div', { class: 'album-count', text: album.count }),
    ])));
    const peopleList = (people, hidden) => el('div', {
      role: 'list', 'aria-label': L.people, class: 'info-people', style: hidden ? 'display:none' : null,
    }, people.map((person) => el('a', {
      role: 'listitem', href: person.href, class: 'info-person', 'aria-label': person.name, text: person.name,
    })));
    const albums = [albumList(details.staleAlbums, true)];
    if (details.albums.length) {
      albums.push(el('div', { class: 'info-heading', text: L.albums }), albumList(details.albums, false));
    }
    aside.appendChild(el('div', { class: 'info-section' }, albums));
    const people = [peopleList(details.stalePeople, true)];
    if (details.people.length) {
      people.push(el('div', { class: 'info-heading', text: L.people }), peopleList(details.people, false));
    }
    aside.appendChild(el('div', { class: 'info-section' }, people));
  }

  function toggleInfo() {
    viewer.infoOpen = !viewer.infoOpen;
    for (const wiz of viewer.wizzes) {
      part(wiz, '.info-panel').hidden = !viewer.infoOpen;
      part(wiz, '.icon-button.info').setAttribute('aria-label', viewer.infoOpen ? L.close_info : L.open_info);
    }
    const current = viewer.current;
    if (viewer.infoOpen && current) {
      if (current.info) fillInfo(current.wiz, current.info);
      else loadItem(current.id).then((info) => { if (!info.notFound) fillInfo(current.wiz, info); }).catch(() => {});
    }
  }

  async function step(direction) {
    const current = viewer.current;
    if (!current || current.index < 0) return;
    const target = current.index + direction;
    await loadOutline();
    if (target < 0 || target >= lib.total) return;
    const item = await itemAt(target);
    if (!item || viewer.current !== current || state.view !== 'photo') return;
    openViewer(item.id, target, true);
  }

  function closeViewer() {
    const last = viewer.current ? viewer.current.index : null;
    history.pushState({}, '', PREFIX + GRID_PATH + ITEM_QUERY);
    showGrid(last);
  }

  async function download(original) {
    const current = viewer.current;
    if (!current) return;
    let answer;
    try {
      answer = await rpc(RPC.download, [current.id, location.href, original ? 1 : 0]);
    } catch (error) {
      return;
    }
    if (answer.url) location.assign(answer.url);  // the top frame; the page stays where it is
    else if (answer.toast) showToast(answer.toast);
    else if (answer.notFound) showNotFound(answer.notFound);
  }

  function viewerMenu(id) {
    const info = viewer.current && viewer.current.id === id ? viewer.current.info : null;
    return [
      { label: L.slideshow, text: L.slideshow },
      { label: L.download, text: L.download_text, hint: `Shift+${DOWNLOAD_KEY}`, act: () => download(false) },
      info && info.edited ? { label: L.download_original, text: L.download_original, act: () => download(true) } : null,
      { label: L.rotate, text: L.rotate.split(' - ')[0], hint: 'Shift+R' },
      { label: L.add_to_album, text: L.add_to_album },
    ].filter(Boolean);
  }

  // ---- menus, toasts, not found ---------------------------------------------------
  const state = { view: 'grid', menu: null, dialog: null };

  function openMenu(button, entries) {
    closeMenu();
    const menu = el('div', { role: 'menu', class: 'menu', tabindex: '-1' });
    for (const entry of entries) {
      const item = el('div', { role: 'menuitem', tabindex: '-1', class: 'menu-item', 'aria-label': entry.label }, [
        el('span', { class: 'menu-text', text: entry.text }),
        entry.hint ? el('span', { class: 'menu-hint', text: entry.hint }) : null,
      ]);
      item.addEventListener('click', (event) => {
        event.stopPropagation();
        closeMenu();
        if (entry.act) entry.act();
      });
      menu.appendChild(item);
    }
    const box = button.getBoundingClientRect();
    menu.style.top = `${box.bottom + 4}px`;
    menu.style.left = `${Math.max(8, box.right - 240)}px`;
    document.body.appendChild(menu);
    button.setAttribute('aria-expanded', 'true');
    state.menu = { menu, button };
    menu.focus({ preventScroll: true });
  }

  function closeMenu() {
    if (!state.menu) return;
    state.menu.menu.remove();
    state.menu.button.setAttribute('aria-expanded', 'false');
    state.menu = null;
  }

  function menuKey(event) {
    const items = [...state.menu.menu.querySelectorAll('[role="menuitem"]')];
    const at = items.indexOf(document.activeElement);
    if (event.key === 'Escape') { const { button } = state.menu; closeMenu(); button.focus(); }
    else if (event.key === 'ArrowDown') items[(at + 1) % items.length].focus();
    else if (event.key === 'ArrowUp') items[(at - 1 + items.length) % items.length].focus();
    else if (event.key === 'Enter' || event.key === ' ') { if (at >= 0) items[at].click(); }
    else if (event.key === 'Tab') closeMenu();
    else return;
    event.preventDefault();
    event.stopPropagation();
  }

  function showToast(text) {
    const toast = el('div', { class: 'toast', role: 'status', 'aria-live': 'polite', text });
    document.body.appendChild(toast);
    setTimeout(() => toast.remove(), 4000);
  }

  function showNotFound(notFound) {
    state.view = 'not-found';
    closeMenu();
    document.title = location.host;
    document.body.className = 'not-found';
    document.body.replaceChildren(el('div', { class: 'error-page' }, [
      el('h1', { text: notFound.title }),
      el('p', { text: notFound.text }),
      el('p', { class: 'error-code', text: notFound.code }),
    ]));
  }

  // ---- hidden stale copies (as the real page keeps earlier views in the DOM) ------
  function buildStale(stale) {
    // An earlier grid: first in the document, kept with visibility:hidden.
    const canvas = el('div', { class: 'canvas' });
    stale.items.forEach(([id, aria], index) => {
      canvas.appendChild(itemLink(id, {
        class: 'item stale', 'aria-label': aria, tabindex: '-1',
        style: `top:${PAD + HEADER + Math.floor(index / 6) * CELL}px;left:${PAD + (index % 6) * CELL}px`,
      }));
    });
    canvas.style.height = `${PAD + HEADER + Math.ceil(stale.items.length / 6) * CELL}px`;
    app.appendChild(el('c-wiz', { class: 'grid-page stale-page', jsrenderer: 'LibraryGrid', style: 'visibility:hidden' }, [
      el('div', { role: 'main', class: 'scroller', tabindex: '-1' }, [canvas]),
    ]));
    // An earlier item's info panel, outside any shown item's element, with display:none.
    const info = stale.info;
    const fill = (template, value) => template.replace('{value}', value);
    app.appendChild(el('c-wiz', { class: 'photo-wiz stale-info', 'data-media-key': info.id, style: 'display:none' }, [
      el('aside', { class: 'info-panel' }, [
        el('div', { class: 'info-row' }, [
          el('div', { class: 'info-date', 'aria-label': fill(L.date_taken, info.date), text: info.date }),
          el('div', { class: 'info-time' }, [
            el('span', { 'aria-label': fill(L.time_taken, info.time), text: info.time }),
          ]),
        ]),
        el('div', { class: 'info-row' }, [
          el('div', { class: 'info-file', 'aria-label': fill(L.filename, info.filename), text: info.filename }),
        ]),
      ]),
    ]));
  }

  // An earlier album page: its scroller (a c-wiz c-wiz c-wiz holding photo links), hidden.
  function buildStaleAlbum(links) {
    const canvas = el('div', { class: 'canvas' });
    links.forEach(([href, aria], index) => {
      const style = `top:${PAD + Math.floor(index / 6) * CELL}px;left:${PAD + (index % 6) * CELL}px`;
      const id = href.split('?')[0].split('/').pop();
      canvas.appendChild(ITEM_LINKS === 'div'
        ? el('div', { role: 'link', tabindex: '-1', 'data-id': id, class: 'item stale', 'aria-label': aria, style })
        : el('a', { href, class: 'item stale', 'aria-label': aria, tabindex: '-1', style }));
    });
    app.appendChild(el('c-wiz', { class: 'grid-page stale-page', jsrenderer: 'AlbumPage', style: 'visibility:hidden' }, [
      el('c-wiz', { class: 'scroller album-scroller', tabindex: '-1', jsrenderer: 'AlbumItems' }, [canvas]),
    ]));
  }

  // ---- the albums list: cards, virtualised like the grid ---------------------------
  const albumsView = { page: null, main: null, canvas: null, cards: [], cols: 1, rows: 0, rendered: new Map(), timer: 0 };

  async function showAlbums() {
    state.view = 'albums';
    document.title = GRID_TITLE;
    const answer = await rpc(RPC.albums, []);
    albumsView.cards = answer.albums;
    albumsView.canvas = el('div', { class: 'canvas' });
    albumsView.main = el('div', { role: 'main', class: 'scroller', tabindex: '-1' }, [albumsView.canvas]);
    albumsView.page = el('c-wiz', { class: 'grid-page albums-page', jsrenderer: 'AlbumsList' }, [
      el('div', { class: 'grid-toolbar' }, [el('h1', { class: 'album-heading', text: L.albums })]),
      albumsView.main,
    ]);
    app.appendChild(albumsView.page);
    albumsView.main.addEventListener('scroll', scheduleAlbums, { passive: true });
    window.addEventListener('resize', () => { layoutAlbums(true); scheduleAlbums(); });
    layoutAlbums(false);
    renderAlbums();
    albumsView.main.focus({ preventScroll: true });
  }

  function layoutAlbums(clear) {
    const view = albumsView;
    const cols = Math.max(1, Math.floor(Math.max(CARD_W, view.main.clientWidth - 2 * PAD) / CARD_W));
    if (clear && cols === view.cols) return;
    view.cols = cols;
    view.rows = Math.ceil(view.cards.length / cols);
    view.canvas.style.height = `${2 * PAD + view.rows * CARD_H}px`;
    if (clear) {
      for (const node of view.rendered.values()) node.remove();
      view.rendered.clear();
    }
  }

  function cardBox(index) {
    return {
      top: PAD + Math.floor(index / albumsView.cols) * CARD_H,
      left: PAD + (index % albumsView.cols) * CARD_W,
    };
  }

  function scheduleAlbums() {
    if (albumsView.timer) return;
    albumsView.timer = setTimeout(() => { albumsView.timer = 0; renderAlbums(); }, 0);
  }

  function makeCard(index) {
    const [href, title, count, hue] = albumsView.cards[index];
    const box = cardBox(index);
    return el('a', { href, class: 'album-card', style: `top:${box.top}px;left:${box.left}px` }, [
      el('div', {
        class: 'album-cover',
        style: `background:linear-gradient(135deg,hsl(${hue} 50% 62%),hsl(${(hue + 60) % 360} 40% 38%))`,
      }),
      el('div', { class: 'album-title', text: title }),
      el('div', { class: 'album-count', text: count }),
    ]);
  }

  function renderAlbums() {
    const view = albumsView;
    const top = view.main.scrollTop;
    const height = view.main.clientHeight || 600;
    const firstRow = Math.max(0, Math.floor((top - height - PAD) / CARD_H));
    const lastRow = Math.min(view.rows - 1, Math.floor((top + 2 * height - PAD) / CARD_H));
    const wanted = [];
    for (let row = firstRow; row <= lastRow; row++) {
      for (let col = 0; col < view.cols; col++) {
        const index = row * view.cols + col;
        if (index < view.cards.length) wanted.push(index);
      }
    }
    const keep = new Set(wanted);
    for (const [index, node] of view.rendered) {
      if (!keep.has(index) && node !== document.activeElement) { node.remove(); view.rendered.delete(index); }
    }
    let cursor = view.canvas.firstChild;
    for (const index of wanted) {
      let node = view.rendered.get(index);
      if (!node) {
        node = makeCard(index);
        view.rendered.set(index, node);
        view.canvas.insertBefore(node, cursor);
      } else if (node === cursor) {
        cursor = cursor.nextSibling;
      } else {
        view.canvas.insertBefore(node, cursor);
      }
    }
  }

  function focusCard(index) {
    const view = albumsView;
    if (index < 0 || index >= view.cards.length) return;
    const box = cardBox(index);
    const top = view.main.scrollTop;
    const height = view.main.clientHeight;
    if (box.top < top) view.main.scrollTop = Math.max(0, box.top - PAD);
    else if (box.top + CARD_H > top + height) view.main.scrollTop = box.top + CARD_H - height + PAD;
    renderAlbums();
    const card = view.rendered.get(index);
    if (card) card.focus({ preventScroll: true });
  }

  function albumsKey(event) {
    if (typing(event)) return;
    const view = albumsView;
    const main = view.main;
    if (!main) return;
    let at = -1;
    for (const [index, node] of view.rendered) if (node === document.activeElement) at = index;
    switch (event.key) {
      case 'ArrowRight': focusCard(at < 0 ? 0 : at + 1); break;
      case 'ArrowLeft': focusCard(at < 0 ? 0 : at - 1); break;
      case 'ArrowDown': if (at < 0) main.scrollTop += 40; else focusCard(Math.min(view.cards.length - 1, at + view.cols)); break;
      case 'ArrowUp': if (at < 0) main.scrollTop -= 40; else focusCard(at - view.cols); break;
      case 'PageDown': main.scrollTop += Math.floor(main.clientHeight * 0.85); break;
      case 'PageUp': main.scrollTop -= Math.floor(main.clientHeight * 0.85); break;
      case 'End': main.scrollTop = main.scrollHeight; break;
      case 'Home': main.scrollTop = 0; break;
      default: return;  // Enter on a focused card follows its link
    }
    event.preventDefault();
  }

  // ---- modal dialog (storage full): blocks the keyboard until answered ------------
  function showDialog(dialog) {
    const cancel = el('button', { type: 'button', class: 'mdc-button', 'data-mdc-dialog-action': 'IbE0S', text: dialog.cancel });
    const confirm = el('button', { type: 'button', class: 'mdc-button', 'data-mdc-dialog-action': 'EBS5u', text: dialog.confirm });
    const root = el('div', { class: 'mdc-dialog mdc-dialog--open' }, [
      el('div', { class: 'mdc-dialog__scrim' }),
      el('div', { class: 'mdc-dialog__container' }, [
        el('div', {
          class: 'mdc-dialog__surface', role: 'dialog', 'aria-modal': 'true',
          'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-text',
        }, [
          el('h2', { class: 'mdc-dialog__title', id: 'dialog-title', text: dialog.title }),
          el('div', { class: 'mdc-dialog__content', id: 'dialog-text', text: dialog.text }),
          el('div', { class: 'mdc-dialog__actions' }, [cancel, confirm]),
        ]),
      ]),
    ]);
    closeMenu();
    document.body.appendChild(root);
    state.dialog = { root, kind: dialog.kind };
    cancel.addEventListener('click', () => answerDialog(false));
    confirm.addEventListener('click', () => answerDialog(true));
    cancel.focus({ preventScroll: true });
  }

  function answerDialog(confirmed) {
    const open = state.dialog;
    if (!open) return;
    if (confirmed) {
      rpc(RPC.dialog, [open.kind, 'confirm'], true).then((answer) => {
        if (answer.url) location.assign(answer.url);
      }).catch(() => {});
      return;
    }
    state.dialog = null;
    open.root.remove();
    rpc(RPC.dialog, [open.kind, 'cancel'], true).catch(() => {});
  }

  window.addEventListener('keydown', (event) => {
    if (!state.dialog) return;
    const onButton = event.target && state.dialog.root.contains(event.target) && event.target.tagName === 'BUTTON';
    event.stopImmediatePropagation();
    if (event.key === 'Escape') { event.preventDefault(); answerDialog(false); return; }
    if (onButton && (event.key === 'Enter' || event.key === ' ' || event.key === 'Tab')) return;  // the button's own action
    event.preventDefault();
  }, true);

  // ---- keyboard, history, account switcher ---------------------------------------
  document.addEventListener('keydown', (event) => {
    if (state.dialog) return;
    if (state.menu) return menuKey(event);
    if (state.view === 'grid') return gridKey(event);
    if (state.view === 'albums') return albumsKey(event);
    if (state.view !== 'photo') return;
    if (typing(event)) return;
    if (event.key === 'ArrowRight') { event.preventDefault(); step(1); }
    else if (event.key === 'ArrowLeft') { event.preventDefault(); step(-1); }
    else if (event.shiftKey && (event.key === DOWNLOAD_KEY || event.code === `Key${DOWNLOAD_KEY}`)) { event.preventDefault(); download(false); }
    else if (event.key === 'Escape') { event.preventDefault(); closeViewer(); }
  });

  document.addEventListener('mousedown', (event) => {
    if (state.menu && !state.menu.menu.contains(event.target) && !state.menu.button.contains(event.target)) closeMenu();
  });

  window.addEventListener('popstate', () => {
    const rest = location.pathname.startsWith(PREFIX) ? location.pathname.slice(PREFIX.length) : '';
    const match = rest.startsWith(ITEM_PATH) ? /^([A-Za-z0-9_-]+)$/.exec(rest.slice(ITEM_PATH.length)) : null;
    if (match) {
      const index = lib.indexOf.get(match[1]);
      showViewer(match[1], index === undefined ? -1 : index);
    } else {
      showGrid(viewer.current ? viewer.current.index : null);
    }
  });

  const accountButton = document.querySelector('.account');
  accountButton.addEventListener('click', (event) => {
    event.preventDefault();
    const open = document.querySelector('.account-popup');
    if (open) { open.remove(); return; }
    const popup = el('div', { class: 'account-popup', role: 'dialog' });
    for (const account of INIT.accounts) {
      popup.appendChild(el('a', { href: account.index ? `/u/${account.index}/` : '/', class: 'account-row' }, [
        el('span', { class: 'account-name', text: account.name }),
        el('span', { class: 'account-email', text: account.email }),
      ]));
    }
    popup.appendChild(el('a', { href: INIT.addAccount, class: 'account-row add', text: L.add_account }));
    accountButton.parentNode.appendChild(popup);
  });

  // ---- start ----------------------------------------------------------------------
  if (INIT.stale) buildStale(INIT.stale);
  if (INIT.stale && INIT.stale.album) buildStaleAlbum(INIT.stale.album);
  if (INIT.dialog) setTimeout(() => showDialog(INIT.dialog), 250);  // a moment after the page
  if (INIT.view === 'albums') {
    showAlbums().catch(() => {});
  } else if (INIT.view === 'photo' && INIT.photoId) {
    showViewer(INIT.photoId, -1);
    loadOutline().then(() => { if (viewer.current) updateNav(viewer.current); }).catch(() => {});
  } else {
    showGrid(null).then(() => grid.main.focus({ preventScroll: true })).catch(() => {});
  }
})();
