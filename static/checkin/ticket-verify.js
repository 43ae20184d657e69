// Checking a scanned ticket on the tablet, with no network: the same decisions as the server's
// eventapp/invites/tickets.py (read its docstring for the payload) and redeem_code().
//
//   const check = await verifyTicket(code, { eventId, publicKey });  // publicKey: base64
//   check.result  // "valid" | "malformed" | "other_event" | "forged"
//   check.serial  // the ticket serial as a decimal string (63 bits do not fit a JS number)
//
// Signatures are checked with WebCrypto's Ed25519 where the browser has it, else with the
// vendored @noble/ed25519 (strict RFC 8032, as OpenSSL on the server).

const VERSION = 1;
const HEADER_BYTES = 13; // version (1) | event id (4) | serial (8), big-endian
const SIGNATURE_BYTES = 64;
const PAYLOAD_BYTES = HEADER_BYTES + SIGNATURE_BYTES; // 77
const PAYLOAD_CHARS = 124; // base32 without padding
const MAX_SCANNED_CHARS = 130; // redeem_code() keeps this much of what the scanner typed
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const CONTEXT = new TextEncoder().encode("eventapp-ticket");
const NOBLE_URL = new URL("../vendor/noble-ed25519-3.2.0/index.js", import.meta.url).href;

// Python's str.strip() removes exactly these (str.isspace()); JavaScript's trim() differs.
const PY_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003" +
  "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

function pyStrip(text) {
  const chars = Array.from(text);
  let start = 0;
  let end = chars.length;
  while (start < end && PY_SPACE.includes(chars[start])) start += 1;
  while (end > start && PY_SPACE.includes(chars[end - 1])) end -= 1;
  return chars.slice(start, end).join("");
}

/** What the server keeps of a scanned code: redeem_code()'s `code.strip()[:130]`. */
export function scannedCode(code) {
  return Array.from(pyStrip(String(code ?? ""))).slice(0, MAX_SCANNED_CHARS).join("");
}

function base32Bytes(text) {
  const bytes = new Uint8Array(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let index = 0;
  for (const char of text) {
    const digit = ALPHABET.indexOf(char);
    if (digit < 0) return null;
    value = ((value << 5) | digit) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes[index++] = (value >> bits) & 0xff;
    }
  }
  // Only the canonical spelling is a ticket: the unused low bits of the last character are 0.
  if (bits > 0 && (value & ((1 << bits) - 1)) !== 0) return null;
  return bytes;
}

/**
 * The claim of a well-formed payload (not yet verified), or null if it is not a ticket code:
 * { eventId, serial (string), signedPart, signature }.
 */
export function readTicket(payload) {
  const text = pyStrip(String(payload ?? "")).toUpperCase();
  if (Array.from(text).length !== PAYLOAD_CHARS) return null;
  const raw = base32Bytes(text);
  if (raw === null || raw.length !== PAYLOAD_BYTES || raw[0] !== VERSION) return null;
  const view = new DataView(raw.buffer);
  return {
    eventId: view.getUint32(1),
    serial: view.getBigUint64(5).toString(),
    signedPart: raw.slice(0, HEADER_BYTES),
    signature: raw.slice(HEADER_BYTES),
  };
}

export function base64Bytes(text) {
  const binary = atob(text);
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function signedMessage(claim) {
  const message = new Uint8Array(CONTEXT.length + claim.signedPart.length);
  message.set(CONTEXT);
  message.set(claim.signedPart, CONTEXT.length);
  return message;
}

// --- verifiers --------------------------------------------------------------------------

// RFC 8032, test 1: tells a working WebCrypto Ed25519 from a missing or broken one.
const PROBE_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const PROBE_SIGNATURE = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

function hexBytes(hex) {
  return Uint8Array.from(hex.match(/../g), (pair) => parseInt(pair, 16));
}

async function webCryptoWorks() {
  try {
    const key = await crypto.subtle.importKey("raw", hexBytes(PROBE_KEY), { name: "Ed25519" },
                                              false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, hexBytes(PROBE_SIGNATURE),
                                      new Uint8Array(0));
  } catch (error) {
    return false;
  }
}

const webCrypto = {
  name: "webcrypto",
  keys: new Map(),
  async verify(signature, message, publicKey) {
    const id = Array.from(publicKey).join(",");
    if (!this.keys.has(id)) {
      this.keys.set(id, crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false,
                                                ["verify"]));
    }
    try {
      return await crypto.subtle.verify({ name: "Ed25519" }, await this.keys.get(id),
                                        signature, message);
    } catch (error) {
      return false; // a key or signature that is not even a curve point
    }
  },
};

const noble = {
  name: "noble",
  library: null,
  async verify(signature, message, publicKey) {
    this.library ??= import(NOBLE_URL);
    const ed = await this.library;
    try {
      return await ed.verifyAsync(signature, message, publicKey, { zip215: false });
    } catch (error) {
      return false;
    }
  },
};

let chosen = null;

/** The verifier this browser uses: WebCrypto's Ed25519 if it works, else noble. */
export function verifier() {
  chosen ??= webCryptoWorks().then((works) => (works ? webCrypto : noble));
  return chosen;
}

/** The verifiers by name, for tests: { webcrypto, noble }. */
export const verifiers = { webcrypto: webCrypto, noble };

/**
 * Check `payload` as a ticket of event `eventId` signed with `publicKey` (base64 of the 32 raw
 * bytes, as the roster gives it). Resolves with { result, eventId?, serial?, engine }.
 * `engine` ("webcrypto" | "noble") forces a verifier (tests); by default the best one.
 */
export async function verifyTicket(payload, { eventId, publicKey }, { engine } = {}) {
  const claim = readTicket(payload);
  if (claim === null) return { result: "malformed" };
  if (claim.eventId !== Number(eventId)) {
    return { result: "other_event", eventId: claim.eventId, serial: claim.serial };
  }
  const chosenVerifier = engine ? verifiers[engine] : await verifier();
  const key = typeof publicKey === "string" ? base64Bytes(publicKey) : publicKey;
  const genuine = key.length === 32 &&
    await chosenVerifier.verify(claim.signature, signedMessage(claim), key);
  return { result: genuine ? "valid" : "forged", eventId: claim.eventId, serial: claim.serial,
           engine: chosenVerifier.name };
}
