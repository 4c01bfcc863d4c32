//! hello: a "ver 1" (Rust style) Jobicolet written in Rust with no crates,
//! built by scripts/build_examples.ts with Debian's rustc:
//!
//!   rustc --target wasm32-unknown-unknown --crate-type cdylib \
//!     -C opt-level=s -C panic=abort -C strip=symbols -o hello.wasm hello.rs
//!
//! The contract is in docs/jobicolet-abi.md. The host calls `init` once,
//! then for every event:
//!
//!   in = malloc(len); res = malloc(16); event(res, in, len);
//!   read {u64 code; u64 (ptr << 32) | len} at res;
//!   free(ptr, len); free(res, 16); free(in, len)   (ver 1: free takes the size)
//!
//! Input: one event item, e.g. {"name":"Ada"}.
//! Output: code 0 and {"greeting":"Hello, Ada!"}; code 2 and "missing name"
//! when the item has no plain "name" string (this small reader takes no
//! escapes in it).

use std::alloc::{alloc, dealloc, Layout};

#[link(wasm_import_module = "env")]
extern "C" {
    /// env.log(level, ptr, len): a log line of `len` UTF-8 bytes at `ptr`.
    #[link_name = "log"]
    fn host_log(level: i32, ptr: *const u8, len: i32);
}

/// zerolog's levels, as the host numbers them: 0 debug, 1 info, 2 warn, 3 error.
fn log(level: i32, message: &str) {
    unsafe { host_log(level, message.as_ptr(), message.len() as i32) }
}

/// Every block is 8-byte aligned; `free` is given the size `malloc` was.
fn layout(size: usize) -> Layout {
    Layout::from_size_align(size.max(1), 8).unwrap()
}

#[no_mangle]
pub extern "C" fn malloc(size: usize) -> *mut u8 {
    unsafe { alloc(layout(size)) }
}

/// ABI flavour 1: the host passes the size back.
#[no_mangle]
pub extern "C" fn free(ptr: *mut u8, size: usize) {
    if !ptr.is_null() {
        unsafe { dealloc(ptr, layout(size)) }
    }
}

#[no_mangle]
pub extern "C" fn ver() -> i32 {
    1
}

#[no_mangle]
pub extern "C" fn init() {}

/// The value of the first `"name": "..."` of a JSON object, when it is a
/// string without escapes.
fn name_of(item: &str) -> Option<&str> {
    let after = &item[item.find("\"name\"")? + 6..];
    let value = after.trim_start().strip_prefix(':')?.trim_start();
    let value = value.strip_prefix('"')?;
    let end = value.find('"')?;
    let name = &value[..end];
    if name.is_empty() || name.contains('\\') {
        None
    } else {
        Some(name)
    }
}

/// Leaves `text` in the module's memory for the host to read (and free).
fn leak(text: String) -> u64 {
    let bytes = text.into_bytes();
    let len = bytes.len();
    let ptr = malloc(len);
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, len) }
    ((ptr as u64) << 32) | len as u64
}

/// The main function (the runtime's `mainfuncname`, "event" by default):
/// the C lowering of `fn(&str) -> (u64 code, u64 result)`.
#[no_mangle]
pub extern "C" fn event(ret: *mut u64, input: *const u8, len: usize) {
    let bytes = unsafe { std::slice::from_raw_parts(input, len) };
    let item = std::str::from_utf8(bytes).unwrap_or("");
    let (code, result) = match name_of(item) {
        Some(name) => {
            log(1, &format!("hello {}", name));
            (0, format!("{{\"greeting\":\"Hello, {}!\"}}", name))
        }
        None => {
            log(2, "no name in the item");
            (2, String::from("missing name"))
        }
    };
    unsafe {
        *ret = code;
        *ret.add(1) = leak(result);
    }
}
