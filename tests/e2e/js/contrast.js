// The WCAG 2 contrast ratio of every visible piece of text: elements with text of their own, and the values and
// (while shown) placeholders of form fields. The text colour (SVG: its fill) is set against the colour behind it, found by
// compositing the backgrounds of the ancestors over white; for SVG text, the fills of what is painted under its
// centre (the map draws numbers on pins). Returns how many were checked and those below `min`, with their colours.
// Evaluated by Playwright as one function.
(min) => {
  const parse = (c) => {
    const m = (c || '').match(/rgba?\(([^)]+)\)/);
    if (!m) return [0, 0, 0, 0];  // none, url(…), transparent
    const v = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
  };
  const over = (top, under) => {  // `top` painted over `under` (source-over, straight alpha)
    const a = top[3] + under[3] * (1 - top[3]);
    if (a === 0) return [0, 0, 0, 0];
    return [0, 1, 2].map((i) => (top[i] * top[3] + under[i] * under[3] * (1 - top[3])) / a).concat([a]);
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const luminance = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (hi + 0.05) / (lo + 0.05);
  };
  const style = (el) => getComputedStyle(el);
  const paint = (el) => parse(el instanceof SVGElement ? style(el).fill : style(el).backgroundColor);
  const behindHtml = (el) => {
    let colour = [0, 0, 0, 0];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      colour = over(colour, parse(style(node).backgroundColor));
      if (colour[3] >= 1) return colour;
    }
    return over(colour, [255, 255, 255, 1]);
  };
  const behindSvg = (el) => {
    el.scrollIntoView({ block: 'center', inline: 'center' });  // elementsFromPoint sees the viewport only
    const r = el.getBoundingClientRect();
    const stack = document.elementsFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    let colour = [0, 0, 0, 0];
    for (const under of stack.slice(stack.indexOf(el) + 1)) {  // what is painted below the text, top first
      if (!(under instanceof SVGElement)) return over(colour, behindHtml(under));
      colour = over(colour, under instanceof SVGSVGElement ? [0, 0, 0, 0] : paint(under));
      if (colour[3] >= 1) return colour;
    }
    return over(colour, [255, 255, 255, 1]);
  };
  const opaque = (el) => {
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      if (style(node).opacity === '0') return false;
    }
    return true;
  };
  const shown = (el) => el.getClientRects().length > 0 && style(el).visibility === 'visible' && opaque(el);
  const ownText = (el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const field = 'input:not([type=file]):not([type=checkbox]):not([type=radio]), textarea, select';
  const failures = [];
  let checked = 0;
  const check = (el, fg, what) => {
    const bg = el instanceof SVGElement ? behindSvg(el) : behindHtml(el);
    const value = ratio(over(fg, bg), bg);
    checked++;
    if (value < min) {
      failures.push({ what, text: (el.textContent || el.value || el.placeholder || '').trim().slice(0, 30),
                      ratio: Math.round(value * 100) / 100, fg: fg.join(','), bg: bg.join(',') });
    }
  };
  for (const el of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'OPTION', 'title'].includes(el.tagName) || !shown(el)) continue;
    if (ownText(el)) check(el, parse(el instanceof SVGElement ? style(el).fill : style(el).color), el.tagName);
    if (el.matches(field)) {
      check(el, parse(style(el).color), el.tagName + ' value');
      if (el.placeholder && !el.value) check(el, parse(getComputedStyle(el, '::placeholder').color), el.tagName + ' placeholder');
    }
  }
  return { checked, failures };
}
