// The conversation panel's script: Gradio runs it with `element` (the panel) and `watch` in scope.
const panel = () => document.querySelector('#sources-panel');
function showSources(turn, n) {
  const root = panel();
  element.querySelectorAll('.msg.bot').forEach(m => m.classList.toggle('selected', m.dataset.turn === String(turn)));
  if (!root) return;
  root.querySelectorAll('.src-group').forEach(g => { g.hidden = g.dataset.turn !== String(turn); });
  if (!n) return;
  const card = root.querySelector('#src-' + turn + '-' + n);
  if (!card) return;
  card.scrollIntoView({behavior: 'smooth', block: 'nearest'});
  card.classList.remove('flash'); void card.offsetWidth; card.classList.add('flash');
}
async function copy(button) {
  const text = button.dataset.copy || '';
  try { await navigator.clipboard.writeText(text); }
  catch (e) {
    const area = document.createElement('textarea');
    area.value = text; document.body.appendChild(area); area.select();
    document.execCommand('copy'); area.remove();
  }
  button.textContent = 'Copied'; setTimeout(() => { button.textContent = 'Copy'; }, 1500);
}
// A marker opens the evidence viewer (assistant/web/viewer.py) on that source, in the answer or on a source card.
const openEvidence = (cite) => trigger('evidence', {turn: cite.dataset.turn, n: cite.dataset.n});
window.assistantOpenEvidence = openEvidence;  // the listener below is added once; this script may run again
if (!window.assistantEvidenceWired) {
  window.assistantEvidenceWired = true;
  document.addEventListener('click', (ev) => {
    const cite = ev.target.closest('#sources-panel a.cite');
    if (cite) { ev.preventDefault(); window.assistantOpenEvidence(cite); }
  });
}
element.addEventListener('click', (ev) => {
  const cite = ev.target.closest('a.cite');
  if (cite) { ev.preventDefault(); showSources(cite.dataset.turn, cite.dataset.n); openEvidence(cite); return; }
  const button = ev.target.closest('button.copy');
  if (button) { copy(button); return; }
  const bot = ev.target.closest('.msg.bot[data-turn]');
  if (bot && !ev.target.closest('a, button, summary')) showSources(bot.dataset.turn, null);
});
let stick = true;
const scroller = () => element.closest('#conversation') || element;
scroller().addEventListener('scroll', () => {
  const box = scroller(); stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
});
watch('value', () => { if (stick) { const box = scroller(); box.scrollTop = box.scrollHeight; } });
