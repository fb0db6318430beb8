// Renders mermaid diagrams to SVG in one headless Chromium (Debian's, not puppeteer's download).
// stdin: JSON [{"id": "...", "source": "..."}]; stdout: JSON {"<id>": "<svg …>"}.
// Called by overrides/hooks/diagrams.py, which caches each SVG by the hash of its source.
import { renderMermaid } from "@mermaid-js/mermaid-cli"
import puppeteer from "puppeteer"

const chromium = process.env.MERMAID_CHROMIUM || "/usr/bin/chromium"
const mermaidConfig = JSON.parse(process.env.MERMAID_CONFIG || "{}")

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const diagrams = JSON.parse(Buffer.concat(chunks).toString("utf8"))

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  // --no-sandbox: the build runs as root in CI, where Chromium's sandbox cannot start
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
})
const out = {}
try {
  for (const { id, source } of diagrams) {
    try {
      const { data } = await renderMermaid(browser, source, "svg", {
        backgroundColor: "transparent",
        mermaidConfig,
        svgId: id,
      })
      out[id] = Buffer.from(data).toString("utf8")
    } catch (error) {
      out[id] = { error: String(error && error.message ? error.message : error).split("\n")[0] }
    }
  }
} finally {
  await browser.close()
}
process.stdout.write(JSON.stringify(out))
