// Paint each card's BlurHash while its image loads; the image covers it once decoded.
import { decode } from "./vendor/blurhash.js";

for (const canvas of document.querySelectorAll("canvas[data-blurhash]")) {
  try {
    const pixels = decode(canvas.dataset.blurhash, canvas.width, canvas.height);
    const context = canvas.getContext("2d");
    const image = context.createImageData(canvas.width, canvas.height);
    image.data.set(pixels);
    context.putImageData(image, 0, 0);
  } catch (error) {
    canvas.remove(); // a hash that does not decode: the plain background stays
  }
}
for (const img of document.querySelectorAll(".thumb img")) {
  const shown = () => img.classList.add("loaded");
  if (img.complete && img.naturalWidth) shown();
  else img.addEventListener("load", shown, { once: true });
}
