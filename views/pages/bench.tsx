import { raw } from "hono/html";
import type { BenchRunSummary } from "../../server/domain/bench-runs.ts";
import {
  comparisonRows,
  describeSoftware,
  describeSpend,
  missingVariantText,
  taskTable,
  taskTableNote,
  type TextTable,
  turnNote,
  variantTable,
  completedPairsNote,
  describeExploratory,
  describeHardSet,
  describeIntervals,
  describeMultipleComparisons,
  describeOrder,
  describeWritesAndReads,
  powerHeader,
  powerNote,
  powerRow,
  repeatsText,
  usd,
} from "../bench-wording.ts";
import type { BenchReport } from "../../server/domain/bench-report.ts";
import { deltaChart, stripChart } from "../bench-charts.ts";
import { Layout, type PageContext } from "../layout.tsx";

/** /bench: the team's benchmark runs, and one run's report (the same data `botboard bench report` prints). */
export function BenchRunsPage(props: { page: PageContext; runs: BenchRunSummary[] }) {
  return (
    <Layout title="Benchmark runs" page={props.page} current="/bench">
      <h1>Benchmark runs</h1>
      {props.runs.length === 0 ? (
        <p class="empty">
          No benchmark runs for this team yet. The server's operator starts one for it from the command line:{" "}
          <code>botboard bench run --driver oracle --team &lt;team&gt;</code>.
        </p>
      ) : (
        <div class="table-wrap" tabindex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Driver</th>
                <th scope="col">Phase</th>
                <th scope="col">Variants</th>
                <th scope="col">Trials</th>
                <th scope="col">Passed</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {props.runs.map((run) => (
                <tr>
                  <td>
                    <a href={`/bench/${encodeURIComponent(run.id)}`}>{run.id}</a>
                  </td>
                  <td>{run.status}</td>
                  <td>
                    {run.driver}
                    {run.model ? ` / ${run.model}` : ""}
                  </td>
                  <td>{run.phase}</td>
                  <td>{run.variants.join(", ")}</td>
                  <td>
                    {run.finished}/{run.trials}
                  </td>
                  <td>{run.passed}</td>
                  <td>{usd(run.costUsd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}

export function BenchRunPage(props: { page: PageContext; report: BenchReport }) {
  const { report } = props;
  const { run } = report;
  const compared = report.variants.filter((variant) => variant.vsBaseline);
  return (
    <Layout title={`Benchmark ${run.id}`} page={props.page} current="/bench">
      <p>
        <a href="/bench">All runs</a>
      </p>
      <h1>Benchmark {run.id}</h1>
      <p>
        Suite {run.suite}, driver {run.driver}
        {run.model ? `, model ${run.model}` : ""}, phase {run.phase}
        {run.fromRunId ? ` (from ${run.fromRunId})` : ""}, {repeatsText(run.repeats)}. Status {run.status}
        {run.stopReason ? ` (${run.stopReason})` : ""}; {report.trials.finished} of {report.trials.total} trials finished.
      </p>
      <p>{describeSpend(report)}</p>
      <p>{describeSoftware(report)}</p>
      <h2>Per variant</h2>
      <Table table={variantTable(report)} />
      <p class="muted">{turnNote(report)}</p>
      <h2>Against the baseline</h2>
      {compared.length === 0 ? (
        <p class="muted">No comparison: this run has no baseline trials, or no other variant.</p>
      ) : (
        <div class="table-wrap" tabindex={0}>
          <p>{completedPairsNote}</p>
          <table>
            <thead>
              <tr>
                <th scope="col">Variant</th>
                <th scope="col">Tasks</th>
                <th scope="col">Cost</th>
                <th scope="col">Turns</th>
                <th scope="col">Time</th>
              </tr>
            </thead>
            <tbody>
              {compared.flatMap((variant) =>
                comparisonRows(variant).map(({ label, cost, turns, wallTime }) => (
                  <tr>
                    <td>{variant.variant}</td>
                    <td>{label}</td>
                    <td>{cost}</td>
                    <td>{turns}</td>
                    <td>{wallTime}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
          <ul>
            {compared.map((variant) => (
              <li>{describeWritesAndReads(variant)}</li>
            ))}
          </ul>
        </div>
      )}
      <DesignNotes report={report} />
      <h2>Charts</h2>
      {/* The charts are SVG built from numbers, with every name escaped (bench/report-html.ts). */}
      <figure>{raw(stripChart(report, "costUsd", "Cost per trial"))}</figure>
      <figure>{raw(stripChart(report, "wallSeconds", "Wall time per trial"))}</figure>
      <figure>{raw(deltaChart(report))}</figure>
      {report.taskDeltas.length > 0 ? (
        <>
          <h2>Per task</h2>
          <p class="muted">{taskTableNote}</p>
          <Table table={taskTable(report)} />
        </>
      ) : null}
      <VariantTexts report={report} />
    </Layout>
  );
}

/** How the run was designed and how to read its intervals, as in the markdown and HTML reports. */
function DesignNotes(props: { report: BenchReport }) {
  const { report } = props;
  const notes = [
    describeOrder(report),
    describeHardSet(report),
    describeExploratory(report),
    describeIntervals(report),
    describeMultipleComparisons(report),
  ];
  return (
    <section>
      <h2>Design and statistics</h2>
      <ul>
        {notes.map((note) => (
          <li>{note}</li>
        ))}
      </ul>
      {report.statistics.power.length > 0 ? (
        <>
          <p class="muted">{powerNote}</p>
          <Table table={{ header: powerHeader(report), rows: report.statistics.power.map(powerRow) }} />
        </>
      ) : null}
    </section>
  );
}

function Table(props: { table: TextTable }) {
  return (
    <div class="table-wrap" tabindex={0}>
      <table>
        <thead>
          <tr>
            {props.table.header.map((cell) => (
              <th scope="col">{cell}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.table.rows.map((row) => (
            <tr>
              {row.map((cell) => (
                <td>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The full text each variant's agents saw: the prompt, and Botboard's MCP instructions and tools. */
function VariantTexts(props: { report: BenchReport }) {
  const { report } = props;
  return (
    <>
      <h2>What each variant saw</h2>
      {Object.entries(report.prompts).map(([variant, prompt]) => {
        const text = report.variantTexts[variant];
        return (
          <section>
            <h3>{variant}</h3>
            <p>Prompt:</p>
            <pre class="bench-prompt">{prompt}</pre>
            {text ? (
              <>
                <p>Botboard MCP server instructions:</p>
                <pre class="bench-prompt">{text.instructions ?? "(none)"}</pre>
                <p>Tools:</p>
                <ul>
                  {text.tools.map((tool) => (
                    <li>
                      <code>{tool.name}</code>: {tool.description}
                    </li>
                  ))}
                </ul>
                {text.push && <p>Push: {text.push}</p>}
              </>
            ) : (
              <p class="muted">{missingVariantText(variant)}</p>
            )}
          </section>
        );
      })}
    </>
  );
}
