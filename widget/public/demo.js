/**
 * The demo page's one script (the page's CSP allows scripts from this origin only, so no inline
 * script): the "Embed it" snippet names the Worker that served this page, ready to copy.
 */
for (const code of document.querySelectorAll('#embed code')) {
  code.textContent = code.textContent.replaceAll('https://YOUR-WORKER', location.origin);
}
