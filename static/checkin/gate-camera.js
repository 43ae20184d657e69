// Scanning with the tablet's camera: the rear camera's picture, a few frames a second, read by
// the vendored jsQR (static/vendor/jsqr-1.4.0, loaded the first time the camera starts).

const FRAME_EVERY_MS = 120;
// A frame is scaled down to this many pixels on its long side: a ticket held up to the
// camera stays readable, and reading one frame takes a few milliseconds on a tablet.
const FRAME_SIZE = 800;
// The same code in front of the camera is one scan, until it has been away this long.
const SAME_CODE_MS = 3000;

let decoderLoading = null;

// jsQR, from its own script (it is a UMD build that sets window.jsQR).
export function loadDecoder(src) {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  if (!decoderLoading) {
    decoderLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => (window.jsQR ? resolve(window.jsQR)
        : reject(new Error("jsQR did not load")));
      script.onerror = () => { decoderLoading = null; reject(new Error("jsQR did not load")); };
      document.head.appendChild(script);
    });
  }
  return decoderLoading;
}

// The text of the QR code in an ImageData, or null.
export function decodeImage(jsQR, image) {
  const found = jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
  return found && found.data ? found.data : null;
}

export function createCamera({ video, jsqrSrc, onCode }) {
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let stream = null;
  let timer = 0;
  let lastCode = "";
  let lastSeen = 0;

  function readFrame(jsQR) {
    if (!stream) return;
    if (video.readyState >= 2 && video.videoWidth) {
      const scale = Math.min(1, FRAME_SIZE / Math.max(video.videoWidth, video.videoHeight));
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const code = decodeImage(jsQR, context.getImageData(0, 0, canvas.width, canvas.height));
      const now = Date.now();
      if (code && (code !== lastCode || now - lastSeen > SAME_CODE_MS)) onCode(code);
      if (code) { lastCode = code; lastSeen = now; }
    }
    timer = setTimeout(() => readFrame(jsQR), FRAME_EVERY_MS);
  }

  return {
    get running() { return Boolean(stream); },
    // Resolves when the picture runs; rejects with an Error whose name says why not
    // (getUserMedia's NotAllowedError, NotFoundError, ...; "insecure" without https).
    async start() {
      if (stream) return;
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw Object.assign(new Error("no camera API"),
                            { name: window.isSecureContext ? "NotFoundError" : "insecure" });
      }
      const jsQR = await loadDecoder(jsqrSrc);
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 },
                 height: { ideal: 720 } },
      });
      video.srcObject = stream;
      await video.play().catch(() => {});
      readFrame(jsQR);
    },
    stop() {
      clearTimeout(timer);
      if (stream) stream.getTracks().forEach((track) => track.stop());
      stream = null;
      video.srcObject = null;
    },
  };
}
