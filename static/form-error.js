// A form shown again after a mistake: move focus to the summary so it is read out first.
const summary = document.getElementById("error-summary");
if (summary) summary.focus();
