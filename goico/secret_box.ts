/**
 * Seals secrets at rest with AES-256-GCM (WebCrypto) under a key kept
 * outside the store, so a copy of the store alone does not give them away.
 * A sealed value is a string, `sealed:v1:<base64url(iv || ciphertext)>`,
 * bound to a context (e.g. the key it is stored under) as additional data:
 * it does not open under another context, so it cannot be moved.
 */

const PREFIX = "sealed:v1:";
const IV_BYTES = 12;

/** A sealed value that does not open: another key, another context, or altered. */
export class SealError extends Error {}

export class SecretBox {
  readonly #key: Promise<CryptoKey>;

  /** `raw`: 32 bytes of key. */
  constructor(raw: Uint8Array) {
    if (raw.length !== 32) {
      throw new Error(`A secret key is 32 bytes, not ${raw.length}`);
    }
    this.#key = crypto.subtle.importKey(
      "raw",
      raw as Uint8Array<ArrayBuffer>,
      { name: "AES-GCM" },
      false,
      ["encrypt", "decrypt"],
    );
  }

  /** Whether a stored value is sealed (else it is in clear, from before sealing). */
  static isSealed(value: string): boolean {
    return value.startsWith(PREFIX);
  }

  async seal(plain: string, context: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const ct = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: encode(context) },
        await this.#key,
        encode(plain),
      ),
    );
    const out = new Uint8Array(iv.length + ct.length);
    out.set(iv);
    out.set(ct, iv.length);
    return PREFIX + toBase64Url(out);
  }

  /** @throws {SealError} when it does not open with this key and context */
  async open(sealed: string, context: string): Promise<string> {
    if (!SecretBox.isSealed(sealed)) throw new SealError("Not a sealed value");
    try {
      const bytes = fromBase64Url(sealed.slice(PREFIX.length));
      const plain = await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: bytes.subarray(0, IV_BYTES),
          additionalData: encode(context),
        },
        await this.#key,
        bytes.subarray(IV_BYTES),
      );
      return new TextDecoder().decode(plain);
    } catch {
      throw new SealError(
        "A sealed secret does not open with this secret key (another key, or altered)",
      );
    }
  }
}

/** 32 random bytes for a new key. */
export function newSecretKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

/**
 * A key from its text: 64 hex digits, or base64 / base64url of 32 bytes.
 * Null when it is neither.
 */
export function parseSecretKey(text: string): Uint8Array | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) {
    return Uint8Array.from(t.match(/../g)!, (h) => parseInt(h, 16));
  }
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    try {
      const bytes = fromBase64Url(t.replace(/=+$/, ""));
      return bytes.length === 32 ? bytes : null;
    } catch {
      return null;
    }
  }
  return null;
}

/** A key as text (base64url), as `parseSecretKey` reads it. */
export function formatSecretKey(key: Uint8Array): string {
  return toBase64Url(key);
}

function encode(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s) as Uint8Array<ArrayBuffer>;
}

function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - b64.length % 4) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
