/**
 * The detail events attached to an exit (kvm_msr, kvm_pio, kvm_mmio, kvm_inj_virq, kvm_apic,
 * kvm_cr, kvm_cpuid, kvm_page_fault): the normalised key a detail is counted under
 * (DetailCount.key), and the cheaper handles the pairing finds a repeat by without building that
 * string — a number for the numeric kinds, the raw text's extent for the text-keyed ones.
 */
import {
  EPT_QUAL_FETCH,
  EPT_QUAL_READ,
  EPT_QUAL_WRITE,
  eptViolationAccessBits,
  validInterruptionVector,
} from "../vmx/fieldFormats";
import {
  at,
  EV_APIC,
  EV_CPUID,
  EV_CR,
  EV_EXIT,
  EV_INJ_VIRQ,
  EV_MMIO,
  EV_MSR,
  EV_PAGE_FAULT,
  EV_PIO,
  find,
  readHexNumber,
  scan,
  skipSpaces,
} from "./events";

/** A hex value below 2^51 (so ×4 stays exact), else NaN: larger ones are keyed by their text. */
function smallHex(s: string, p: number, end: number): number {
  const v = readHexNumber(s, p, end);
  return scan.hi >= 0x80000 ? Number.NaN : v;
}

/**
 * A number that identifies the detail within its event kind (MSR index and direction, port and
 * direction, gpa and access type, CPUID function, fault address), NaN for kinds keyed by text.
 */
export function detailNumber(s: string, kind: number, f: number, end: number): number {
  switch (kind) {
    case EV_MSR: {
      const write = at(s, f, "msr_write");
      if (!write && !at(s, f, "msr_read")) return Number.NaN;
      // A faulting access (" (#GP)") is keyed apart.
      const gp = s.charCodeAt(end - 1) === 41 ? 2 : 0;
      return smallHex(s, skipSpaces(s, f + (write ? 9 : 8), end), end) * 4 + gp + (write ? 1 : 0);
    }
    case EV_PIO: {
      const write = at(s, f, "pio_write");
      return at(s, f + (write ? 9 : 8), " at ")
        ? smallHex(s, f + (write ? 13 : 12), end) * 2 + (write ? 1 : 0)
        : Number.NaN;
    }
    case EV_MMIO: {
      const type = at(s, f + 5, "write") ? 2 : at(s, f + 5, "read") ? 1 : 0;
      const g = find(s, "gpa ", f, end);
      return g < 0 ? Number.NaN : smallHex(s, g + 4, end) * 4 + type;
    }
    case EV_CPUID:
      return at(s, f, "func ") ? smallHex(s, f + 5, end) : Number.NaN;
    case EV_EXIT:
      return interruptVector(s, f, end);
    case EV_PAGE_FAULT: {
      const a = find(s, "address ", f, end);
      const address = a < 0 ? Number.NaN : smallHex(s, a + 8, end);
      const access = pageFaultAccess(s, f, end);
      // × 4 + access (1 read, 2 write, 3 fetch; 0 none), exact below 2^51.
      return access === undefined ? address * 4 : address * 4 + ACCESS_NAMES.indexOf(access);
    }
    default:
      return Number.NaN;
  }
}

/** The normalised key of a detail event (see DetailCount.key), or undefined if unreadable. */
export function detailKey(s: string, kind: number, f: number, end: number): string | undefined {
  switch (kind) {
    case EV_MSR: {
      // `msr_%s %x = 0x%llx%s`
      const write = at(s, f, "msr_write");
      if (!write && !at(s, f, "msr_read")) return undefined;
      const p = skipSpaces(s, f + (write ? 9 : 8), end);
      const index = readHexNumber(s, p, end);
      if (Number.isNaN(index)) return undefined;
      const gp = s.charCodeAt(end - 1) === 41 /* ) */ && find(s, "(#GP)", p, end) >= 0 ? " (#GP)" : "";
      return `${write ? "msr_write" : "msr_read"} 0x${index.toString(16)}${gp}`;
    }
    case EV_PIO: {
      const write = at(s, f, "pio_write");
      const a = find(s, "at ", f, end);
      const port = a < 0 ? Number.NaN : readHexNumber(s, a + 3, end);
      return Number.isNaN(port) ? undefined : `${write ? "pio_write" : "pio_read"} 0x${port.toString(16)}`;
    }
    case EV_MMIO: {
      const typeEnd = find(s, " ", f + 5, end);
      const g = find(s, "gpa ", f, end);
      const gpa = g < 0 ? Number.NaN : readHexNumber(s, g + 4, end);
      if (typeEnd < 0 || Number.isNaN(gpa)) return undefined;
      return `mmio ${s.slice(f + 5, typeEnd)} 0x${gpa.toString(16)}`;
    }
    case EV_INJ_VIRQ: {
      let e = end;
      while (e > f && s.charCodeAt(e - 1) === 32) e--;
      return e > f ? `inj_virq ${s.slice(f, e)}` : undefined;
    }
    case EV_APIC:
    case EV_CR: {
      // `apic_%s %s = 0x%llx`, `cr_%s %x = 0x%lx`
      const eq = find(s, " =", f, end);
      return eq > f ? s.slice(f, eq) : undefined;
    }
    case EV_CPUID: {
      // `func %x idx %x rax …` (old: `func %x rax …`)
      if (!at(s, f, "func ")) return undefined;
      const p = f + 5;
      const func = readHexNumber(s, p, end);
      return Number.isNaN(func) ? undefined : `cpuid 0x${func.toString(16)}`;
    }
    case EV_EXIT: {
      const vector = interruptVector(s, f, end);
      return Number.isNaN(vector) ? undefined : `vector 0x${vector.toString(16)}`;
    }
    case EV_PAGE_FAULT: {
      const a = find(s, "address ", f, end);
      const address = a < 0 ? Number.NaN : readHexNumber(s, a + 8, end);
      if (Number.isNaN(address)) return undefined;
      const access = pageFaultAccess(s, f, end);
      return `page_fault 0x${address.toString(16)}${access ? ` ${access}` : ""}`;
    }
    default:
      return undefined;
  }
}

/**
 * For the text-keyed kinds (kvm_inj_virq, kvm_apic, kvm_cr), the end of the raw text their key
 * is made of, which starts at f: equal raw texts give equal keys. -1 for other kinds or when
 * the line gives no key.
 */
export function detailTextEnd(s: string, kind: number, f: number, end: number): number {
  switch (kind) {
    case EV_INJ_VIRQ: {
      let e = end;
      while (e > f && s.charCodeAt(e - 1) === 32) e--;
      return e > f ? e : -1;
    }
    case EV_APIC:
    case EV_CR: {
      const eq = find(s, " =", f, end);
      return eq > f ? eq : -1;
    }
    default:
      return -1;
  }
}

const ACCESS_NAMES = ["", "read", "write", "fetch"] as const;

/**
 * The access of a kvm_page_fault on VMX (`vcpu %u rip 0x%lx address 0x%016llx error_code
 * 0x%llx`): KVM's handle_ept_violation (arch/x86/kvm/vmx/vmx.c) passes the EPT-violation exit
 * qualification as the error code, whose bits 0, 1, 2 say the access was a data read, a data
 * write, an instruction fetch (the bits core/src/vmx/fieldFormats.ts names and cites). A write
 * is named first, then a fetch (a write also reads). Undefined without an error code.
 */
export function pageFaultAccess(s: string, f: number, end: number): "read" | "write" | "fetch" | undefined {
  const e = find(s, "error_code ", f, end);
  if (e < 0) return undefined;
  const code = readHexNumber(s, e + 11, end);
  if (Number.isNaN(code)) return undefined;
  const low = eptViolationAccessBits(code);
  if (low & EPT_QUAL_WRITE) return "write";
  if (low & EPT_QUAL_FETCH) return "fetch";
  if (low & EPT_QUAL_READ) return "read";
  return undefined;
}

/**
 * The vector of an EXTERNAL_INTERRUPT exit, from the kvm_exit fields after f: `intr_info 0x%x`
 * (current TP_printk and plugin_kvm) or the second number of the old `info %llx %llx`, the
 * VM-exit interruption-information field. With "acknowledge interrupt on exit" (KVM's default,
 * vmx.c setup_vmcs_config) it is valid and holds the vector (the layout, with its SDM sections,
 * core/src/vmx/fieldFormats.ts decodes). NaN without one.
 */
export function interruptVector(s: string, f: number, end: number): number {
  let p = find(s, "intr_info ", f, end);
  if (p >= 0) p += 10;
  else {
    const i = find(s, " info ", f, end);
    if (i < 0) return Number.NaN;
    // `info A B`: skip A.
    p = skipSpaces(s, i + 6, end);
    while (p < end && s.charCodeAt(p) !== 32) p++;
    p = skipSpaces(s, p, end);
  }
  return validInterruptionVector(readHexNumber(s, p, end));
}
