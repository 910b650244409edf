// agentgym's helpers inside a MiniWoB++ page: stable element ids, the text view, and the
// element lookups behind element-level actions. Evaluated once per episode, after the task page
// loaded; everything lives in window.__agentgym.
(() => {
  if (window.__agentgym) return;
  const SKIP_IDS = new Set(['reward-display', 'sync-task-cover', 'click-canvas', 'query',
                            'attention-canvas']);
  const SKIP_TAGS = new Set(['SCRIPT', 'STYLE', 'BR', 'HEAD', 'META', 'LINK', 'TITLE',
                             'NOSCRIPT', 'OPTION', 'DEFS']);
  const PASS_IDS = new Set(['wrap', 'area']);  // containers shown through their children
  const ROLES = {A: 'link', BUTTON: 'button', SELECT: 'combobox', TEXTAREA: 'textbox',
                 IMG: 'img', LI: 'listitem', UL: 'list', OL: 'list', TABLE: 'table', TR: 'row',
                 TD: 'cell', TH: 'columnheader', LABEL: 'label', H1: 'heading', H2: 'heading',
                 H3: 'heading', H4: 'heading', H5: 'heading', H6: 'heading'};
  const TEXT_INPUTS = new Set(['text', 'password', 'email', 'number', 'search', 'tel', 'url', '']);
  const MAX_ELEMENTS = 500;
  let next = 1;

  function idOf(el) {
    if (!el.dataset.agentgymId) el.dataset.agentgymId = String(next++);
    return +el.dataset.agentgymId;
  }
  function clip(s, n) {
    s = s.replace(/\s+/g, ' ').trim();
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
  }
  function ownText(el) {
    let text = '';
    for (const child of el.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) text += ' ' + child.data;
    }
    return clip(text, 100);
  }
  function roleOf(el) {
    const tag = el.tagName.toUpperCase();
    if (tag === 'INPUT') {
      const type = (el.getAttribute('type') || 'text').toLowerCase();
      if (TEXT_INPUTS.has(type)) return 'textbox';
      if (type === 'checkbox' || type === 'radio') return type;
      if (type === 'range') return 'slider';
      if (type === 'button' || type === 'submit' || type === 'reset') return 'button';
      return 'input-' + type;
    }
    if (el.isContentEditable && el.getAttribute('contenteditable') !== null) return 'textbox';
    return ROLES[tag] || el.tagName.toLowerCase();
  }
  function q(s) { return JSON.stringify(s); }

  function record(el, rect, parent, depth) {
    const role = roleOf(el);
    const r = {id: idOf(el), tag: el.tagName.toLowerCase(), role: role, parent: parent,
               depth: depth, text: ownText(el),
               box: [Math.round(rect.left), Math.round(rect.top), Math.round(rect.width),
                     Math.round(rect.height)]};
    if (el.id) r.dom_id = el.id;
    const cls = typeof el.className === 'string' ? el.className.trim() : '';
    if (cls) r.classes = cls.split(/\s+/).slice(0, 3);
    if (el instanceof HTMLInputElement) {
      r.type = (el.getAttribute('type') || 'text').toLowerCase();
      if (r.type === 'checkbox' || r.type === 'radio') r.checked = el.checked;
      else r.value = el.value;
    } else if (el instanceof HTMLTextAreaElement) {
      r.value = el.value;
    } else if (el instanceof HTMLSelectElement) {
      r.options = Array.from(el.options).slice(0, 50).map(o => clip(o.text, 40));
      r.value = el.selectedIndex >= 0 ? clip(el.options[el.selectedIndex].text, 40) : '';
    } else if (el.isContentEditable && el.getAttribute('contenteditable') !== null) {
      r.value = clip(el.innerText, 200);
    }
    for (const name of ['title', 'placeholder', 'aria-label', 'alt', 'name']) {
      const v = el.getAttribute(name);
      if (v) r[name] = clip(v, 40);
    }
    if (el instanceof SVGElement) {
      const fill = el.getAttribute('fill');
      if (fill) r.fill = fill;
    }
    if (el.style && el.style.backgroundColor) r.bg = el.style.backgroundColor;
    if (el.disabled) r.disabled = true;
    if (document.activeElement === el) r.focused = true;
    return r;
  }

  function line(r, withBoxes) {
    let s = '  '.repeat(r.depth) + '[' + r.id + '] ' + r.role;
    if (r.text) s += ' ' + q(r.text);
    if (r.role !== r.tag && !['textbox', 'checkbox', 'radio', 'button'].includes(r.role) &&
        r.role.indexOf('input-') !== 0) s += ' <' + r.tag + '>';
    if (r.classes && !r.text && ['div', 'span', 'a', 'li', 'td', 'i'].includes(r.tag)) {
      s += ' .' + r.classes.join('.');
    }
    if (r.value !== undefined) s += ' value=' + q(r.value);
    if (r.checked !== undefined) s += r.checked ? ' checked' : ' unchecked';
    if (r.options) s += ' options=' + q(r.options);
    for (const name of ['title', 'placeholder', 'aria-label', 'alt', 'fill', 'bg']) {
      if (r[name]) s += ' ' + name + '=' + q(r[name]);
    }
    if (r.disabled) s += ' disabled';
    if (r.focused) s += ' focused';
    if (withBoxes) s += ' @(' + r.box.join(',') + ')';
    return s;
  }

  function walk(el, parent, depth, out) {
    if (out.length >= MAX_ELEMENTS) return;
    if (SKIP_TAGS.has(el.tagName.toUpperCase()) || SKIP_IDS.has(el.id)) return;
    const style = window.getComputedStyle(el);
    if (style.display === 'none') return;
    const rect = el.getBoundingClientRect();
    let shown = !PASS_IDS.has(el.id) && style.visibility !== 'hidden' && rect.width > 0 &&
                rect.height > 0;
    let id = parent, childDepth = depth;
    if (shown) {
      const r = record(el, rect, parent, depth);
      out.push(r);
      id = r.id;
      childDepth = depth + 1;
    }
    for (const child of el.children) walk(child, id, childDepth, out);
  }

  function elements() {
    const out = [];
    for (const child of document.body.children) walk(child, null, 0, out);
    return out;
  }

  const decoded = new Set();
  const URL_RE = /url\(["']?([^"')]+)["']?\)/g;
  const checked = new WeakMap();  // element -> the class list its images were looked up for
  function imageUrls(el) {
    const urls = [];
    if (el instanceof HTMLImageElement && el.src) urls.push(el.src);
    for (const pseudo of [null, '::before', '::after']) {
      const style = window.getComputedStyle(el, pseudo);
      for (const value of [style.backgroundImage, style.content]) {
        if (value && value.indexOf('url(') >= 0) {
          for (const m of value.matchAll(URL_RE)) urls.push(m[1]);
        }
      }
    }
    return urls;
  }
  async function settleImages() {
    const pending = [];
    for (const el of document.body.querySelectorAll('*')) {
      const key = (typeof el.className === 'string' ? el.className : '') + '|' +
        (el.getAttribute('src') || '') + '|' + (el.getAttribute('style') || '');
      if (checked.get(el) === key) continue;
      checked.set(el, key);
      for (const url of imageUrls(el)) {
        if (decoded.has(url)) continue;
        decoded.add(url);
        const img = new Image();
        img.src = url;
        pending.push(img.decode().catch(() => false));
      }
    }
    if (!pending.length || !window.__agentgymWait) return false;
    await __agentgymWait(Promise.all(pending), 2000);
    await __agentgymFrames(2);  // the decoded images reach the screen
    return true;
  }

  function find(id) {
    const el = document.querySelector('[data-agentgym-id="' + id + '"]');
    if (!el) return {error: 'there is no element [' + id + '] on the page'};
    return {el: el};
  }

  window.__agentgym = {
    // Stop navigations: the task lives in this one document.
    guard() {
      document.addEventListener('submit', e => e.preventDefault(), true);
      document.addEventListener('click', e => {
        const a = e.target && e.target.closest ? e.target.closest('a[href]') : null;
        if (a) {
          const href = a.getAttribute('href') || '';
          if (href && href[0] !== '#' && href.indexOf('javascript:') !== 0) e.preventDefault();
        }
      }, true);
      const display = document.getElementById('reward-display');
      if (display) display.style.display = 'none';
    },
    // The elements once the images they show are decoded (a CSS sprite of a widget created by
    // the task loads after the page's load event), so that the screenshot shows them.
    async observe(withBoxes) {
      let els = elements();
      if (await settleImages()) els = elements();
      let utterance = typeof core !== 'undefined' ? core.getUtterance() : '';
      let fields = null;
      if (utterance && typeof utterance === 'object') {  // tasks with parsed fields
        fields = utterance.fields || null;
        utterance = utterance.utterance || '';
      }
      return {
        utterance: String(utterance),
        fields: fields,
        tree: els.map(r => line(r, withBoxes)).join('\n'),
        elements: els,
        done: typeof WOB_DONE_GLOBAL !== 'undefined' ? WOB_DONE_GLOBAL : true,
        reward: typeof WOB_REWARD_GLOBAL !== 'undefined' ? WOB_REWARD_GLOBAL : 0,
        raw_reward: typeof WOB_RAW_REWARD_GLOBAL !== 'undefined' ? WOB_RAW_REWARD_GLOBAL : 0,
        reason: typeof WOB_REWARD_REASON !== 'undefined' && WOB_REWARD_REASON !== null ?
          String(WOB_REWARD_REASON) : null,
      };
    },
    // Wait until a wheel scroll has landed: the scroll offsets stay the same over two real
    // frames (and the page's scroll handlers have run).
    async settleScroll() {
      if (!window.__agentgymFrames) return;
      const offsets = () => {
        let out = window.scrollX + ',' + window.scrollY;
        for (const el of document.body.querySelectorAll('*')) {
          if (el.scrollTop || el.scrollLeft) out += '|' + el.scrollTop + ',' + el.scrollLeft;
        }
        return out;
      };
      await __agentgymFrames(2);
      let last = offsets();
      for (let i = 0; i < 30; i++) {
        await __agentgymFrames(2);
        const now = offsets();
        if (now === last) return;
        last = now;
      }
    },
    // The viewport point at the centre of element `id`, scrolled into view first.
    point(id) {
      const found = find(id);
      if (found.error) return found;
      const el = found.el;
      // the first box of the element: an inline element broken over lines has a gap between
      // its lines where the centre of its bounding box may fall
      const firstBox = () => {
        const rects = Array.from(el.getClientRects()).filter(r => r.width > 0 && r.height > 0);
        return rects.length ? rects[0] : el.getBoundingClientRect();
      };
      let rect = firstBox();
      if (rect.width === 0 || rect.height === 0) {
        return {error: 'element [' + id + '] is not visible'};
      }
      if (rect.bottom <= 0 || rect.right <= 0 || rect.top >= window.innerHeight ||
          rect.left >= window.innerWidth) {
        el.scrollIntoView({block: 'nearest', inline: 'nearest'});
        rect = firstBox();
      }
      const x = Math.min(Math.max(rect.left + rect.width / 2, 0), window.innerWidth - 1);
      const y = Math.min(Math.max(rect.top + rect.height / 2, 0), window.innerHeight - 1);
      return {x: x, y: y};
    },
    // Focus a field and select its text so that typed text replaces it; fields whose value is
    // not typed (date, time, colour, range) get the value directly.
    fill(id, value) {
      const found = find(id);
      if (found.error) return found;
      const el = found.el;
      const editable = el.isContentEditable && el.getAttribute('contenteditable') !== null;
      if (!(el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || editable)) {
        return {error: 'element [' + id + '] is a ' + roleOf(el) + ', not a text field'};
      }
      if (el.disabled || el.readOnly) return {error: 'element [' + id + '] is not editable'};
      const type = el instanceof HTMLInputElement ?
        (el.getAttribute('type') || 'text').toLowerCase() : 'text';
      if (['checkbox', 'radio', 'button', 'submit', 'reset', 'file', 'image'].includes(type)) {
        return {error: 'element [' + id + '] is a ' + type + ', not a text field'};
      }
      el.focus();
      if (['date', 'time', 'month', 'week', 'datetime-local', 'color', 'range'].includes(type)) {
        el.value = value;
        if (el.value !== value) {
          return {error: 'element [' + id + '] (' + type + ') does not accept ' + q(value)};
        }
        el.dispatchEvent(new Event('input', {bubbles: true}));
        el.dispatchEvent(new Event('change', {bubbles: true}));
        return {mode: 'set'};
      }
      if (editable) {
        const range = document.createRange();
        range.selectNodeContents(el);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
      } else {
        try { el.select(); } catch (err) { el.value = ''; }
      }
      return {mode: 'type'};
    },
    select(id, wanted) {
      const found = find(id);
      if (found.error) return found;
      const el = found.el;
      if (!(el instanceof HTMLSelectElement)) {
        return {error: 'element [' + id + '] is a ' + roleOf(el) + ', not a drop-down list'};
      }
      const options = Array.from(el.options);
      const picked = [];
      for (const w of wanted) {
        const exact = options.find(o => o.text.trim() === w || o.value === w);
        const loose = exact || options.find(o => o.text.trim().toLowerCase() === w.toLowerCase());
        if (!loose) {
          return {error: 'element [' + id + '] has no option ' + q(w) + '; its options are ' +
                  q(options.slice(0, 20).map(o => o.text.trim()))};
        }
        picked.push(loose);
      }
      if (picked.length > 1 && !el.multiple) {
        return {error: 'element [' + id + '] accepts one option'};
      }
      el.focus();
      options.forEach(o => { o.selected = picked.includes(o); });
      el.dispatchEvent(new Event('input', {bubbles: true}));
      el.dispatchEvent(new Event('change', {bubbles: true}));
      return {mode: 'set'};
    },
  };
})();
