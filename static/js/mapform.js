// The map declaration panel's "Add the map" button submits the whole editor form to its formaction as a
// page load, as it does without JavaScript: htmx would post it to the same address but swap only the result,
// and the answer is the whole page with the program changed.
document.addEventListener("click", (event) => {
  const button = event.target.closest("#add-map");
  if (!button) return;
  event.preventDefault();
  const form = button.form;
  form.setAttribute("action", button.formAction);
  HTMLFormElement.prototype.submit.call(form);  // no submit event: htmx leaves it alone
});
