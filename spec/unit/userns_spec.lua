-- wbl.userns's arithmetic and files (no root needed): /etc/subuid's
-- entries, where a wbl entry goes, the slots a container takes, the
-- mappings checked; and --userns in the docker front end.
local userns = require "wbl.userns"
local docker = require "wbl.docker"
local args = require "wbl.args"
local core = require "wbl.core"
local util = require "wbl.util"

describe("wbl.userns #unit", function()
  it("parses /etc/subuid, skipping what is no entry", function()
    assert.same({
      { name = "alice", start = 100000, count = 65536 },
      { name = "1001", start = 165536, count = 65536 },
      { name = "wbl", start = 231072, count = 10 },
    }, userns.parse("alice:100000:65536\n# a comment\n1001:165536:65536\nbad line\nx:1\n  wbl:231072:10  \n"))
    assert.same({}, userns.parse(""))
  end)

  it("puts a new entry on useradd's grid above 100000, clear of every other", function()
    local n = userns.made_count
    assert.equal(100000, userns.free_start({ {} }, n))
    assert.equal(165536, userns.free_start({ { { start = 100000, count = 65536 } } }, n))
    -- clear of both lists, jumping past what is in the way
    assert.equal(362144, userns.free_start({ { { start = 100000, count = 200000 } },
      { { start = 300000, count = 10 } } }, 65536))
    -- below the entry, where it fits
    assert.equal(100000, userns.free_start({ { { start = 100000 + n, count = 65536 } } }, n))
    -- no room below 2^32 - 1
    assert.is_nil(userns.free_start({ { { start = 0, count = 0xFFFFFFFF } } }, 65536))
  end)

  it("cuts entries into slots of 65536 ids (a smaller entry is one smaller slot)", function()
    assert.same({ { start = 100000, size = 65536 }, { start = 165536, size = 65536 } },
      userns.slots { { start = 100000, count = 2 * 65536 + 100 } })
    assert.same({ { start = 5, size = 1000 } }, userns.slots { { start = 5, count = 1000 } })
  end)

  describe("the wbl entries", function()
    local dir, saved
    before_each(function()
      dir = os.tmpname()
      os.remove(dir)
      assert(core.fs.mkdir(dir, "0700"))
      saved = userns.files
      userns.files = function() return { uid = dir .. "/subuid", gid = dir .. "/subgid" } end
    end)
    after_each(function()
      userns.files = saved
      util.rm_rf(dir)
    end)

    it("are made where missing, the same start in both files", function()
      assert(core.fs.write_file(dir .. "/subuid", "alice:100000:65536"))
      assert(core.fs.write_file(dir .. "/subgid", "bob:165536:65536\n"))
      local r = assert(userns.ensure())
      local want = ("wbl:231072:%d\n"):format(userns.made_count)
      assert.equal("alice:100000:65536\n" .. want, core.fs.read_file(dir .. "/subuid"))
      assert.equal("bob:165536:65536\n" .. want, core.fs.read_file(dir .. "/subgid"))
      assert.same({ { name = "wbl", start = 231072, count = userns.made_count } }, r.uid)
      assert.same(r.uid, r.gid)
      assert.same({ dir .. "/subuid", dir .. "/subgid" }, r.made)
      -- and then read, not made again
      r = assert(userns.ensure())
      assert.same({}, r.made)
      assert.equal("alice:100000:65536\n" .. want, core.fs.read_file(dir .. "/subuid"))
    end)

    it("are read as they are (several lines: every one of them), missing files made", function()
      assert(core.fs.write_file(dir .. "/subuid", "wbl:300000:65536\nwbl:500000:131072\n"))
      local r = assert(userns.ensure())
      assert.equal(2, #r.uid)
      assert.equal(3, #userns.slots(r.uid))
      assert.equal(("wbl:100000:%d\n"):format(userns.made_count), core.fs.read_file(dir .. "/subgid"))
    end)
  end)

  it("checks a spec's mappings, and finds its root's host ids", function()
    local m = { { containerID = 0, hostID = 100000, size = 65536 } }
    local s = { linux = { namespaces = { { type = "user" } }, uidMappings = m, gidMappings = m } }
    assert.is_true(userns.check(s))
    assert.same({ uid = 100000, gid = 100000 }, userns.root_ids(s))
    assert.is_nil(userns.root_ids { linux = { namespaces = {} } })
    for field, bad in pairs {
      ["linux.uidMappings: a user namespace needs"] = {},
      ["linux.uidMappings%[1%].hostID: expected an id"] = { { containerID = 0, hostID = -1, size = 1 } },
      ["linux.uidMappings%[1%].size: at least 1"] = { { containerID = 0, hostID = 1, size = 0 } },
      ["linux.uidMappings: container id 0"] = { { containerID = 1, hostID = 1, size = 1 } },
    } do
      local _, msg = userns.check { linux = { uidMappings = bad, gidMappings = m } }
      assert.matches(field, msg)
    end
  end)

  it("--userns auto asks for a user namespace (its range is taken when it is made); host for none", function()
    local function spec(...)
      local o, cmd = args.parse(docker.options, { ... })
      assert(o, cmd)
      return assert(docker.spec(o, cmd, "c0ffee"))
    end
    local s = spec("--userns=auto", "true")
    assert.same({ type = "user" }, s.linux.namespaces[1])
    assert.equal("auto", s.wbl.userns)
    assert.is_nil(s.linux.uidMappings)
    assert.matches("^user,", require("wbl.spec").clone_flags(s, true))
    assert.is_false(require("wbl.spec").has_namespace(spec("--userns", "host", "true"), "user"))
    assert.is_false(require("wbl.spec").has_namespace(spec("true"), "user"))
    local _, msg = args.parse(docker.options, { "--userns", "remap", "true" })
    assert.matches("^%-%-userns remap: expected host", msg)
  end)
end)
