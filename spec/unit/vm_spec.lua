-- vm/run.sh's choice of accelerator, with fake qemus (small sh scripts
-- that log the -accel they were given and act like qemu would), without
-- building or booting anything: a kvm failure before the guest wrote
-- results (nested virtualisation: qemu aborts, or reports a KVM internal
-- error and waits, or nothing comes) is retried with tcg, a kvm that works
-- is used alone, a kvm run with results is never retried, WBL_VM_TCG and
-- WBL_VM_ACCEL=tcg never try kvm.
local H = require "spec.helper"

-- What the fakes do for one accelerator (sh).  The real guest writes its
-- results to build/vm/result.txt over 9p; the runner exports the
-- directory as WBL_VM_OUT.
local NESTED = [[echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0xd000c04" >&2; exit 134]]
local function write(summary)
  return ("printf 'vm: kernel fake, 2 cpus\\n%s\\nvm: exit 0 after 1.0 s\\n' > \"$WBL_VM_OUT/result.txt\"")
    :format(summary)
end
local function results(summary, code)
  return write(summary) .. "; exit " .. (code or 0)
end
-- The other nested-KVM failure: qemu reports an emulation failure, stops
-- the VM and waits (for the timeout, if nobody stops it).
local INTERNAL = [[printf 'KVM internal error. Suberror: 1\nemulation failure\nRAX=0\n' >&2; exec sleep 60]]
local PASS = results("3 passed, 0 failed, 0 skipped")
local FAIL = results("2 passed, 1 failed, 0 skipped")

describe("vm/run.sh's accelerator", function()
  local dir

  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.sh("rm -rf " .. H.q(dir)) end)

  -- A fake qemu doing kvm_sh when given -accel kvm, tcg_sh for tcg.
  local function fake(kvm_sh, tcg_sh)
    local path = dir .. "/qemu"
    local f = assert(io.open(path, "w"))
    f:write(([[
#!/bin/sh
accel=
while [ $# -gt 0 ]; do
  [ "$1" = -accel ] && accel=$2
  shift
done
echo "$accel" >> %s
echo "fake serial console ($accel)"
case $accel in
  kvm) %s ;;
  tcg) %s ;;
esac
echo "fake qemu: no accelerator $accel" >&2
exit 1
]]):format(H.q(dir .. "/log"), kvm_sh, tcg_sh))
    f:close()
    assert(os.execute("chmod +x " .. H.q(path)))
    return path
  end

  -- Run the runner with the fake and env (a string of VAR=value); return
  -- stdout, stderr, status, the accelerators the fake was called with.
  local function run(qemu, env)
    local out, err, code = H.sh(("cd %s && env -u WBL_VM_TCG -u WBL_VM_ACCEL -u WBL_VM_TIMEOUT -u WBL_VM_KVM_BOOT"
      .. " WBL_VM_OUT=%s WBL_VM_SKIP_MAKE=1 WBL_VM_QEMU=%s %s sh vm/run.sh")
      :format(H.q(H.top), H.q(dir .. "/out"), H.q(qemu), env or ""))
    local f = io.open(dir .. "/log")
    local log = f and f:read("a") or ""
    if f then f:close() end
    return out, err, code, log
  end

  local function last(s) return s:match("([^\n]*)\n?$") end

  it("retries with tcg when kvm fails early like nested virtualisation", function()
    local out, err, code, log = run(fake(NESTED, PASS), "WBL_VM_ACCEL=kvm")
    assert.are.equal("kvm\ntcg\n", log)
    assert.are.equal(0, code, out .. err)
    assert.truthy(out:find("vm: kvm failed (qemu exit 134 after 0 s: "
      .. "qemu-system-x86_64: error: failed to set MSR 0x10a to 0xd000c04), retrying with tcg", 1, true), out)
    assert.truthy(out:find("vm: qemu exit 0 after %d+ s %(tcg%)"), out)
    assert.are.equal("3 passed, 0 failed, 0 skipped", last(out))
    -- qemu's stderr is still shown, its stdout (the console) too.
    assert.truthy(err:find("failed to set MSR 0x10a", 1, true), err)
    assert.truthy(out:find("fake serial console (kvm)", 1, true), out)
  end)

  it("stops qemu and retries with tcg when kvm reports an internal error", function()
    local t0 = os.time()
    local out, err, code, log = run(fake(INTERNAL, PASS), "WBL_VM_ACCEL=kvm")
    assert.is_true(os.time() - t0 < 30, "waited for the fake's sleep")
    assert.are.equal("kvm\ntcg\n", log)
    assert.are.equal(0, code, out .. err)
    assert.truthy(out:find("vm: kvm failed (KVM internal error. Suberror: 1; qemu stopped, exit ", 1, true), out)
    assert.truthy(out:find("), retrying with tcg", 1, true), out)
    assert.are.equal("3 passed, 0 failed, 0 skipped", last(out))
    assert.truthy(err:find("emulation failure", 1, true), err)
  end)

  it("stops a kvm run without results after WBL_VM_KVM_BOOT s and retries with tcg", function()
    local out, err, code, log = run(fake("exec sleep 60", PASS), "WBL_VM_ACCEL=kvm WBL_VM_KVM_BOOT=1")
    assert.are.equal("kvm\ntcg\n", log)
    assert.are.equal(0, code, out .. err)
    assert.truthy(out:find("vm: kvm failed (no results after 1 s; qemu stopped", 1, true), out)
    assert.are.equal("3 passed, 0 failed, 0 skipped", last(out))
  end)

  it("uses a kvm that works, and only kvm", function()
    local out, err, code, log = run(fake(PASS, PASS), "WBL_VM_ACCEL=kvm")
    assert.are.equal("kvm\n", log)
    assert.are.equal(0, code, out .. err)
    assert.falsy(out:find("retrying", 1, true), out)
    assert.truthy(out:find("vm: qemu exit 0 after %d+ s %(kvm%)"), out)
    assert.are.equal("3 passed, 0 failed, 0 skipped", last(out))
  end)

  it("does not retry a kvm run whose results show failures", function()
    local out, err, code, log = run(fake(FAIL, PASS), "WBL_VM_ACCEL=kvm")
    assert.are.equal("kvm\n", log)
    assert.are_not.equal(0, code, out .. err)
    assert.falsy(out:find("retrying", 1, true), out)
    assert.are.equal("2 passed, 1 failed, 0 skipped", last(out))
  end)

  it("does not retry a kvm run that wrote results before an internal error", function()
    local out, err, code, log = run(fake(write("3 passed, 0 failed, 0 skipped") .. "; " .. INTERNAL, PASS),
      "WBL_VM_ACCEL=kvm")
    assert.are.equal("kvm\n", log)
    assert.are_not.equal(0, code, out .. err)
    assert.falsy(out:find("retrying", 1, true), out)
    assert.truthy(out:find("not retried", 1, true), out)
  end)

  it("does not retry a kvm run that failed after the guest wrote results", function()
    -- The guest booted and ran (results are there), then qemu died.
    local out, err, code, log = run(fake(results("3 passed, 0 failed, 0 skipped", 134), PASS),
      "WBL_VM_ACCEL=kvm")
    assert.are.equal("kvm\n", log)
    assert.are_not.equal(0, code, out .. err)
    assert.falsy(out:find("retrying", 1, true), out)
  end)

  it("does not retry a kvm run that timed out", function()
    local out, err, code, log = run(fake("exit 124", PASS), "WBL_VM_ACCEL=kvm")
    assert.are.equal("kvm\n", log)
    assert.are_not.equal(0, code, out .. err)
    assert.are.equal("0 passed, 1 failed, 0 skipped", last(out))
  end)

  it("fails when tcg fails too", function()
    local out, err, code, log = run(fake(NESTED, "exit 1"), "WBL_VM_ACCEL=kvm")
    assert.are.equal("kvm\ntcg\n", log)
    assert.are_not.equal(0, code, out .. err)
    assert.are.equal("0 passed, 1 failed, 0 skipped", last(out))
  end)

  it("never tries kvm with WBL_VM_TCG=1, whatever WBL_VM_ACCEL says", function()
    local out, err, code, log = run(fake(NESTED, PASS), "WBL_VM_TCG=1 WBL_VM_ACCEL=kvm")
    assert.are.equal("tcg\n", log)
    assert.are.equal(0, code, out .. err)
    assert.truthy(out:find("vm: accelerator tcg (WBL_VM_TCG is set)", 1, true), out)
    assert.are.equal("3 passed, 0 failed, 0 skipped", last(out))
  end)

  it("never tries kvm with WBL_VM_ACCEL=tcg", function()
    local _, _, code, log = run(fake(NESTED, PASS), "WBL_VM_ACCEL=tcg")
    assert.are.equal("tcg\n", log)
    assert.are.equal(0, code)
  end)

  it("refuses an unknown WBL_VM_ACCEL without running qemu", function()
    local out, err, code, log = run(fake(PASS, PASS), "WBL_VM_ACCEL=hvf")
    assert.are.equal("", log)
    assert.are_not.equal(0, code)
    assert.truthy(err:find("WBL_VM_ACCEL must be kvm or tcg", 1, true), err)
    assert.are.equal("0 passed, 1 failed, 0 skipped", last(out))
  end)
end)
