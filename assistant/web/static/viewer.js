// The evidence viewer's script: Gradio runs it with `element` (the viewer) and `watch` in scope.
// Each opening re-renders the dialog; this centres the quote in the text and its first box on the page.
function centre(scroller, target) {
  if (!scroller || !target) return;
  const top = target.getBoundingClientRect().top - scroller.getBoundingClientRect().top + scroller.scrollTop;
  scroller.scrollTop = Math.max(0, top - scroller.clientHeight / 3);
}
function close() {
  const root = element.querySelector('.ev-backdrop');
  if (root) root.hidden = true;
}
function show() {
  const root = element.querySelector('.ev-backdrop');
  if (!root) return;
  root.hidden = false;
  const text = root.querySelector('.ev-text');
  centre(text, text && (text.querySelector('mark.ev-quote') || text.querySelector('.ev-gone')));
  const page = root.querySelector('.ev-page');
  const image = page && page.querySelector('img');
  const fit = () => centre(page, page.querySelector('.ev-box'));
  if (image && !image.complete) image.addEventListener('load', fit, {once: true}); else if (page) fit();
  const button = root.querySelector('.ev-close');
  if (button) button.focus({preventScroll: true});
}
element.addEventListener('click', (ev) => {
  if (ev.target.closest('.ev-close') || ev.target.classList.contains('ev-backdrop')) close();
});
document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') close(); });
watch('value', show);
show();
