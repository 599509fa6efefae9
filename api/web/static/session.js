// The key the person signed in with, kept for this tab's session (sessionStorage).
// Reads (pages, images, video) ride on the HttpOnly cookie the sign-in set; the calls
// that write (a tus upload, a clip to match) send this key as a header.
const STORE = "assetflow.key";

export function apiKey() {
  return sessionStorage.getItem(STORE);
}

export function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// Read an API answer; an error answer becomes its sentence.
export async function readAnswer(response) {
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error;
    if (response.status === 401) {
      throw new Error("Your key is not accepted for this: sign out and sign in again.");
    }
    throw new Error(message || `the server answered ${response.status}`);
  }
  return body;
}

const form = document.getElementById("signin");
if (form) {
  form.addEventListener("submit", () => {
    sessionStorage.setItem(STORE, form.elements.key.value.trim());
  });
}
for (const button of document.querySelectorAll("[data-signout]")) {
  button.addEventListener("click", () => sessionStorage.removeItem(STORE));
}
