// The page's one error box (role="alert"): a new message replaces the last; the user dismisses it.

const box = document.getElementById('error');
const text = document.getElementById('error-text');

export function showError(message) {
  text.textContent = message;
  box.hidden = false;
}

export function hideError() {
  box.hidden = true;
  text.textContent = '';
}

export function errorShown() {
  return !box.hidden;
}

document.getElementById('error-close').addEventListener('click', hideError);
