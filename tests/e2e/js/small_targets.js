// Every visible interactive element whose box is under `min` x `min` CSS px: links, buttons, inputs (not hidden
// ones), selects, text areas, and labels that hold or name a form field. Evaluated by Playwright as one function.
(min) => {
  const wanted = 'a[href], button, input:not([type=hidden]), select, textarea, label';
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility === 'visible';
  const labelled = (el) => el.tagName !== 'LABEL' || el.control || el.querySelector('input, select, textarea');
  return [...document.querySelectorAll(wanted)].filter((el) => visible(el) && labelled(el)).map((el) => {
    const r = el.getBoundingClientRect();
    return { tag: el.tagName, text: (el.textContent || el.name || el.type || '').trim().slice(0, 30),
             w: Math.round(r.width * 10) / 10, h: Math.round(r.height * 10) / 10 };
  }).filter((t) => t.w < min - 0.01 || t.h < min - 0.01);
}
